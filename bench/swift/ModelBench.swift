import ArgumentParser
import ColPaliModel
import Foundation

/// Seconds per page and per query, and peak RSS, of the native model; the
/// same protocol as bench/pytorch_colpali.py (one warm-up each, then timed).
struct ModelBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Native model speed and memory.")

    @Option var model: String
    @Option var precision: String = "bf16"
    @Option var pages = 2
    @Option var queries = 8
    @Option var threads: Int?
    @Option(help: "Page image (default: random pixels, as the PyTorch script).") var image: String?
    @Option(help: "Write the page's and the first query's embeddings here as .npy.") var dump: String?

    func run() async throws {
        guard let precision = Precision(rawValue: precision) else { throw ValidationError("precision: fp32 or bf16") }
        guard pages >= 0, queries >= 0 else { throw ValidationError("--pages and --queries count timed runs: 0 or more") }
        let context = ComputeContext(threads: threads)
        var started = Date()
        let net = try await ColPali.load(model, precision: precision, locator: ModelLocator(), context: context)
        let loadSeconds = Date().timeIntervalSince(started)

        let page: RGBImage
        if let image {
            page = try RGBImage.load(contentsOf: URL(fileURLWithPath: image))
        } else {
            // Same dimensions as the PyTorch script's random page; pixel values do not change the cost.
            var generator = SystemRandomNumberGenerator()
            page = RGBImage(width: 850, height: 1100, pixels: (0..<(850 * 1100 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        func question(_ i: Int) -> String { "What is the total revenue reported for quarter \(i) in the annual report?" }
        let texts = (0..<queries).map(question)

        let warmPage = try net.embedDocuments([page], format: .transformers)[0]
        let warmQuery = try net.embedQueries([question(0)], format: .transformers)[0]
        started = Date()
        for _ in 0..<pages { _ = try net.embedDocuments([page], format: .transformers) }
        let perPage = pages > 0 ? Date().timeIntervalSince(started) / Double(pages) : 0
        started = Date()
        for text in texts { _ = try net.embedQueries([text], format: .transformers) }
        let perQuery = queries > 0 ? Date().timeIntervalSince(started) / Double(texts.count) : 0

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        if let dump {
            try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            try NumpyFile.write(warmPage, to: URL(fileURLWithPath: dump).appendingPathComponent("page.npy"))
            try NumpyFile.write(warmQuery, to: URL(fileURLWithPath: dump).appendingPathComponent("query.npy"))
        }
        let result: [String: Any] = [
            "framework": "colpali-pg native", "dtype": precision.rawValue, "threads": context.threads,
            "gemm_kernel": precision == .bf16 ? Precision.bf16Kernel : "openblas-sgemm",
            "load_seconds": (loadSeconds * 10).rounded() / 10,
            "seconds_per_page": (perPage * 100).rounded() / 100,
            "seconds_per_query": (perQuery * 1000).rounded() / 1000,
            "peak_rss_gb": (Double(usage.ru_maxrss) / 1024 / 1024 * 100).rounded() / 100,
            "page_tokens": warmPage.rows, "page_dim": warmPage.dim,
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// float32 [rows, dim] as NumPy .npy.
enum NumpyFile {
    static func write(_ vector: MultiVector, to url: URL) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(vector.rows), \(vector.dim)), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        vector.values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: url)
    }
}
