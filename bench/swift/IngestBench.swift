import ArgumentParser
import ColPaliIngest
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// Ingest end to end with a given (tiny) model: pages per minute and where
/// the time goes; and the time to write a full-size page (1,030 x 128) to
/// Postgres, which the tiny model's small embeddings do not show.
struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest", abstract: "Ingest pipeline throughput.")

    @Option var databaseURL: String
    @Option var model: String
    @Option var pdf: String
    @Option var repeats = 5
    @Option var dpi = PDFRenderer.defaultDPI
    @Option var fullSizePages = 40

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let settings = try ConnectionSettings(url: databaseURL)
        _ = try await Migrator(migrations: Migration.load(from: Migration.locateDirectory()), logger: logger).migrate(settings)
        let net = try await ColPali.load(model, precision: .bf16, locator: ModelLocator())
        let collected = NIOLockedValueBox<[IngestTimings]>([])
        var options = IngestOptions()
        options.dpi = dpi
        options.force = true  // the same file each time: embed it again
        let (repeats, pdf, settled, log) = (self.repeats, self.pdf, options, logger)
        let started = Date()
        let collection = try await Database.withClient(settings, logger: logger) { client in
            let ingestor = Ingestor(model: net, promptFormat: .transformers, batchSize: 4, client: client, logger: log) { t in
                collected.withLockedValue { $0.append(t) }
            }
            for _ in 0..<repeats { _ = try await ingestor.ingest(path: pdf, options: settled) }
            return try await client.withConnection { c in
                try await CollectionStore(logger: log).resolve(settled.collection, for: ingestor.collectionModel, create: true, on: c)
            }
        }
        let wall = Date().timeIntervalSince(started)
        let timings = collected.withLockedValue { $0 }
        let pages = timings.reduce(0) { $0 + $1.pages }

        // Writing full-size pages: the binary-protocol path ingest uses.
        let store = DocumentStore(logger: logger)
        let corpus = SyntheticCorpus(seed: 5)
        let embedding = MultiVector(rows: 1030, dim: 128, values: corpus.page(0))
        let pagesToWrite = (1...fullSizePages).map { NewPage(pageNumber: $0, width: 1700, height: 2200, embedding: embedding, patchGrid: 32) }
        let key = DocumentKey(collectionID: collection.id, contentHash: Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
        let document = NewDocument(key: key, sourceURI: "bench://full-size", title: nil, sourcePageCount: fullSizePages)
        let writeStarted = Date()
        _ = try await Database.withConnection(settings, logger: logger) { c in
            try await store.store(document, pages: pagesToWrite, replace: true, on: c)
        }
        let fullWrite = Date().timeIntervalSince(writeStarted) / Double(fullSizePages)

        let result: [String: Any] = [
            "pages": pages, "dpi": dpi,
            "pages_per_minute": (Double(pages) / wall * 60).rounded(),
            "render_s_per_page": Self.round(timings.reduce(0) { $0 + $1.render } / Double(pages)),
            "embed_s_per_page": Self.round(timings.reduce(0) { $0 + $1.embed } / Double(pages)),
            "store_s_per_page": Self.round(timings.reduce(0) { $0 + $1.store } / Double(pages)),
            "full_size_store_s_per_page": Self.round(fullWrite),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }

    static func round(_ value: Double) -> Double { (value * 10000).rounded() / 10000 }
}
