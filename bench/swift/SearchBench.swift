import ArgumentParser
import ColPaliSearch
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// Two-stage search (Hamming prefilter + exact rerank, through the client
/// library's SQL) against exact full-table MaxSim: recall@10 and latency
/// percentiles per oversampling factor.
struct SearchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Two-stage search recall and latency.")

    @Option var databaseURL: String
    @Option var pages = 10000
    @Option var queries = 20
    @Option(help: "Exact full-table searches to time (they are slow at scale).") var exactQueries = 5
    @Option(parsing: .upToNextOption) var oversampling: [Int] = [1, 2, 5, 10, 20, 50]
    @Flag(help: "Make the pages table UNLOGGED before loading (a benchmark-only speed-up).") var unlogged = false
    @Option var seed: UInt64 = 42
    @Flag(help: "Distribute the tables first (the database is a Citus coordinator's).") var distribute = false
    @Option(help: "Shards for documents and pages when distributing.") var shardCount: Int?

    func run() async throws {
        let (pages, queries, exactQueries, oversampling) = (self.pages, self.queries, self.exactQueries, self.oversampling)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let settings = try ConnectionSettings(url: databaseURL)
        _ = try await Migrator(migrations: Migration.load(from: Migration.locateDirectory()), logger: logger).migrate(settings)
        if distribute {
            let outcome = try await Database.withConnection(settings, logger: logger) { c in
                try await Distribution.distribute(shardCount: shardCount, on: c, logger: logger)
            }
            FileHandle.standardError.write(Data("distributed: \(outcome.shards) shards over \(outcome.workers) workers\n".utf8))
        }
        if unlogged {
            try await Database.withConnection(settings, logger: logger) { c in
                _ = try await c.query("ALTER TABLE pages SET UNLOGGED", logger: logger)
            }
        }
        let corpus = SyntheticCorpus(seed: seed)
        try await SyntheticLoader(corpus: corpus, settings: settings, logger: logger).load(pages: pages)
        var random = SplitMix(seed: seed &+ 11)
        let queryMatrices = (0..<queries).map {
            MultiVector(rows: corpus.queryRows, dim: corpus.dim, values: corpus.query(1000 + $0, target: Int(random.next() % UInt64(pages))))
        }
        let collection = SyntheticLoader.collection
        let json = try await SearchClient.with(database: settings, model: nil, logger: logger) { client -> String in
            // Warm-up: the codes into cache, as a running service would have them.
            _ = try await client.search(embedding: queryMatrices[0], in: collection, limit: 10, candidates: 10)
            // Exact ground truth (timed on the first few queries).
            var truth: [[Int]] = []
            var exactTimes: [Double] = []
            for (index, query) in queryMatrices.enumerated() {
                let started = Date()
                let hits = try await client.exactSearch(embedding: query, in: collection, limit: 10)
                if index < exactQueries { exactTimes.append(Date().timeIntervalSince(started)) }
                truth.append(hits.map(\.pageID))
                if index + 1 >= exactQueries && pages > 50_000 {
                    // At 100,000 pages exact search is minutes per batch: the
                    // remaining ground truth comes from a generous two-stage run.
                    break
                }
            }
            while truth.count < queryMatrices.count {
                let hits = try await client.search(embedding: queryMatrices[truth.count], in: collection, limit: 10, candidates: 2000)
                truth.append(hits.map(\.pageID))
            }
            var rows: [[String: Any]] = []
            for factor in oversampling {
                var recall = 0.0
                var times: [Double] = []
                for (index, query) in queryMatrices.enumerated() {
                    let started = Date()
                    let hits = try await client.search(embedding: query, in: collection, limit: 10, candidates: 10 * factor)
                    times.append(Date().timeIntervalSince(started))
                    recall += Double(Set(hits.map(\.pageID)).intersection(truth[index]).count) / 10
                }
                rows.append(["oversampling": factor, "candidates": 10 * factor,
                             "recall_at_10": (recall / Double(queries) * 1000).rounded() / 1000,
                             "p50_ms": Self.milliseconds(Self.percentile(times, 0.5)), "p95_ms": Self.milliseconds(Self.percentile(times, 0.95))])
            }
            let result: [String: Any] = [
                "pages": pages, "queries": queries, "distributed": distribute,
                "exact_p50_ms": Self.milliseconds(Self.percentile(exactTimes, 0.5)),
                "exact_p95_ms": Self.milliseconds(Self.percentile(exactTimes, 0.95)),
                "exact_timed": exactTimes.count, "two_stage": rows]
            return String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self)
        }
        print(json)
    }

    static func milliseconds(_ seconds: Double) -> Double { (seconds * 10000).rounded() / 10 }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded(.up)))]
    }
}
