import ArgumentParser
import ColPaliCore
import Foundation

/// Token pooling at ingest: seconds to pool one full-size page (1,030 x 128,
/// the synthetic corpus's), and the rows it keeps. Run beside colpali-engine's
/// pooler by bench/pooling_speed.sh.
struct PoolingBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pooling", abstract: "Hierarchical token pooling speed.")

    @Option var factor = 3
    @Option var pages = 3
    @Option var seed: UInt64 = 42

    func run() throws {
        let corpus = SyntheticCorpus(seed: seed)
        var seconds: [Double] = []
        var kept = 0
        for p in 0..<pages {
            let page = MultiVector(rows: corpus.rowsPerPage, dim: corpus.dim, values: corpus.page(p))
            let started = Date()
            let pooled = try TokenPooling.hierarchical(page, factor: factor)
            seconds.append(Date().timeIntervalSince(started))
            kept = pooled.vectors.rows
        }
        let result: [String: Any] = ["factor": factor, "rows": corpus.rowsPerPage, "pooled_rows": kept,
                                     "seconds_per_page": (seconds.sorted()[seconds.count / 2] * 1000).rounded() / 1000]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
