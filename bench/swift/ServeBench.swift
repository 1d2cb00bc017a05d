import ArgumentParser
import ColPaliSearch
import ColPaliStorage
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The baseline side of bench/serve_speed.sh: the synthetic corpus loaded,
/// the query multi-vectors written as the JSON bodies wrk posts, and the
/// same searches driven directly through the client library (the SQL the
/// server runs, on a pool of the same size) at the same concurrency.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Direct-library baseline for the HTTP server.")

    @Option var databaseURL: String
    @Option var pages = 2000
    @Option var queries = 16
    @Option(help: "Concurrent searches (wrk's connections).") var concurrency = 32
    @Option(help: "Pooled connections (the server's default).") var connections = 8
    @Option(help: "How long to search (0: load the corpus and write the bodies only).") var seconds = 20.0
    @Option(help: "Directory for the request bodies (query_N.json).") var bodies: String
    @Option var seed: UInt64 = 42

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let settings = try ConnectionSettings(url: databaseURL)
        _ = try await Migrator(migrations: Migration.load(from: Migration.locateDirectory()), logger: logger).migrate(settings)
        let corpus = SyntheticCorpus(seed: seed)
        try await SyntheticLoader(corpus: corpus, settings: settings, logger: logger).load(pages: pages)
        var random = SplitMix(seed: seed &+ 11)
        let matrices = (0..<queries).map {
            MultiVector(rows: corpus.queryRows, dim: corpus.dim, values: corpus.query(1000 + $0, target: Int(random.next() % UInt64(pages))))
        }
        try FileManager.default.createDirectory(atPath: bodies, withIntermediateDirectories: true)
        for (index, query) in matrices.enumerated() {
            let rows = (0..<query.rows).map { Array(query.row($0)) }
            let body: [String: Any] = ["query_embedding": rows, "collection": SyntheticLoader.collection, "limit": 10]
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: "\(bodies)/query_\(index).json"))
        }

        guard seconds > 0 else { return }  // loading and the bodies only
        var configuration = SearchClient.Configuration(database: settings)
        configuration.maximumConnections = connections
        let (concurrency, seconds, collection) = (self.concurrency, self.seconds, SyntheticLoader.collection)
        let result = try await SearchClient.with(configuration, model: nil, logger: logger) { client -> [String: Double] in
            for query in matrices { _ = try await client.search(embedding: query, in: collection, limit: 10) }  // warm
            let latencies = NIOLockedValueBox<[Double]>([])
            let started = ContinuousClock.now
            let deadline = started + .milliseconds(Int64(seconds * 1000))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var index = worker
                        while ContinuousClock.now < deadline {
                            let begun = ContinuousClock.now
                            _ = try await client.search(embedding: matrices[index % matrices.count], in: collection, limit: 10)
                            let elapsed = ContinuousClock.now - begun
                            latencies.withLockedValue { $0.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
                            index += concurrency
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - started
            let sorted = latencies.withLockedValue { $0 }.sorted()
            let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            return ["requests": Double(sorted.count), "per_second": Double(sorted.count) / total,
                    "p50_ms": percentile(0.5), "p99_ms": percentile(0.99)]
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
