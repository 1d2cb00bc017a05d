import ColPaliCore
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// What became of one source.
public enum IngestOutcome: Sendable, Equatable, CustomStringConvertible {
    /// A new document with these pages.
    case stored(documentID: Int, pages: Int)
    /// Pages added to (or, forced, embedded again in) a stored document.
    case addedPages(documentID: Int, pages: [Int])
    /// Every selected page was stored already: nothing embedded.
    case alreadyStored(documentID: Int)
    /// Nothing embedded; the stored document's title or metadata changed.
    case updated(documentID: Int)
    /// Recorded as a failed document when its content could be read.
    case failed(documentID: Int?, reason: String)

    /// For logs and messages: "stored as document 9 (2 pages)".
    public var description: String {
        switch self {
        case .stored(let id, let pages): return "stored as document \(id) (\(pages) page\(pages == 1 ? "" : "s"))"
        case .addedPages(let id, let pages):
            return "added page\(pages.count == 1 ? "" : "s") \(PageRange.describe(pages)) to document \(id)"
        case .alreadyStored(let id): return "already stored as document \(id)"
        case .updated(let id): return "updated the title and metadata of document \(id)"
        case .failed(let id?, let reason): return "failed (document \(id)): \(reason)"
        case .failed(nil, let reason): return "failed: \(reason)"
        }
    }
}

/// Work a caller adds to the transactions that record an outcome: the ingest
/// daemon marks its job done or failed there, so a job never says done for
/// a document that was not stored, nor the other way round.
public struct OutcomeHooks: Sendable {
    /// In the transaction that stores pages: the document id.
    public var stored: DocumentStore.Within?
    /// In the transaction that records a failed document: its id and the reason.
    public var failed: (@Sendable (Int, String, PostgresConnection) async throws -> Void)?

    public init(stored: DocumentStore.Within? = nil,
                failed: (@Sendable (Int, String, PostgresConnection) async throws -> Void)? = nil) {
        self.stored = stored
        self.failed = failed
    }
}

/// Progress through the pages of one document.
public struct PageProgress: Sendable {
    public let source: String
    public let pagesDone: Int
    public let pagesTotal: Int
}

/// Stopped on request (shutdown) before finishing; nothing was stored.
public struct IngestInterrupted: Error {}

/// Where the time of one stored document went.
public struct IngestTimings: Sendable {
    public var pages = 0
    /// Rendering or decoding pages; after the first batch it runs beside
    /// the model, so it is not all added to the document's time.
    public var render = 0.0
    public var embed = 0.0
    /// Token pooling, when asked for.
    public var pool = 0.0
    public var store = 0.0
}

/// File in, page multi-vectors in Postgres: read and hash, find what of it
/// the collection holds already, render (PDF) or decode (image) and embed
/// only the pages still missing, then store them with the document in one
/// transaction. Job-agnostic: the daemon owns its jobs' states and adds its
/// changes through ``OutcomeHooks``.
public final class Ingestor: Sendable {
    public let model: ColPali
    public let promptFormat: PromptFormat
    public let batchSize: Int
    /// The pool every ingest writes through.
    let client: PostgresClient
    let store: DocumentStore
    let collections: CollectionStore
    let logger: Logger
    let report: (@Sendable (IngestTimings) -> Void)?

    /// `report` receives the timings of every stored document (benchmarks).
    public init(model: ColPali, promptFormat: PromptFormat, batchSize: Int, client: PostgresClient, logger: Logger,
                report: (@Sendable (IngestTimings) -> Void)? = nil) {
        self.report = report
        self.model = model
        self.promptFormat = promptFormat
        self.batchSize = max(1, batchSize)
        self.client = client
        store = DocumentStore(logger: logger)
        collections = CollectionStore(logger: logger)
        self.logger = logger
    }

    /// The model as a collection records it.
    public var collectionModel: CollectionModel {
        CollectionModel(identity: model.identity, name: model.identifier, embeddingDimension: model.embeddingDimension,
                        promptFormat: promptFormat)
    }

    /// Number of pages the file will yield (for progress totals); 0 when it
    /// cannot be read (ingest will then report why).
    public static func plannedPages(_ path: String, options: IngestOptions) -> Int {
        guard let data = try? FileReader.read(path: path) else { return 0 }
        switch SourceFile.kind(of: data, path: path) {
        case .png, .jpeg: return 1
        case .pdf: return (try? PDFRenderer(data: data)).map { options.pages.pages(of: $0.pageCount).count } ?? 0
        case nil: return 0
        }
    }

    /// Ingests the file at `path`. A file that cannot be read is reported
    /// without recording anything.
    public func ingest(path: String, options: IngestOptions, hooks: OutcomeHooks = OutcomeHooks(),
                       shouldStop: @escaping @Sendable () -> Bool = { false },
                       progress: @escaping @Sendable (PageProgress) -> Void = { _ in }) async throws -> IngestOutcome {
        let source: SourceFile
        do {
            source = try SourceFile(path: path)
        } catch {
            logger.info("cannot ingest", metadata: ["source": "\(path)", "reason": "\(error)"])
            return .failed(documentID: nil, reason: String(describing: error))
        }
        return try await ingest(source, options: options, hooks: hooks, shouldStop: shouldStop, progress: progress)
    }

    /// Ingests content already read.
    public func ingest(_ source: SourceFile, options: IngestOptions, hooks: OutcomeHooks = OutcomeHooks(),
                       shouldStop: @escaping @Sendable () -> Bool = { false },
                       progress: @escaping @Sendable (PageProgress) -> Void = { _ in }) async throws -> IngestOutcome {
        let started = Date()
        let path = source.path
        let model = collectionModel
        let collection = try await withDatabase("finding the collection", shouldStop: shouldStop) { c in
            try await self.collections.resolve(options.collection, for: model, create: true, on: c)
        }
        let key = DocumentKey(collectionID: collection.id, tenant: options.tenant, contentHash: source.contentHash)
        var record = NewDocument(key: key, sourceURI: source.uri, title: options.title, metadata: options.metadata ?? [:],
                                 sourcePageCount: nil)
        let existing = try await withDatabase("checking for the document", shouldStop: shouldStop) { c in
            try await self.store.existing(key, on: c)
        }
        let current = existing?.status == .ready ? existing : nil
        do {
            let plan = try Plan(source: source, options: options, stored: current?.storedPages ?? [])
            record.sourcePageCount = plan.sourcePageCount
            record.title = options.title ?? current?.title ?? plan.title
            record.metadata = options.metadata ?? current?.metadata ?? [:]
            if let current, plan.pages.isEmpty {
                guard record.title != current.title || record.metadata != current.metadata else {
                    logger.info("already stored", metadata: ["source": "\(path)", "document": "\(current.id)"])
                    return .alreadyStored(documentID: current.id)
                }
                let document = record
                try await withDatabase("updating the document", shouldStop: shouldStop) { c in
                    try await self.store.update(documentID: current.id, title: document.title, metadata: document.metadata, on: c)
                }
                return .updated(documentID: current.id)
            }
            let embedded = try await embed(plan, of: source, options: options, shouldStop: shouldStop, progress: progress)
            let pages = embedded.pages
            var timings = embedded.timings
            let storeStarted = Date()
            let document = record
            let result = try await withDatabase("storing the document", shouldStop: shouldStop) { c in
                try await self.store.store(document, pages: pages, replace: options.force, within: hooks.stored, on: c)
            }
            timings.store = Date().timeIntervalSince(storeStarted)
            report?(timings)
            logger.info("stored pages", metadata: [
                "source": "\(path)", "document": "\(result.documentID)", "collection": "\(collection.name)",
                "pages": "\(pages.count)", "render_s": "\(String(format: "%.2f", timings.render))",
                "embed_s": "\(String(format: "%.2f", timings.embed))", "store_s": "\(String(format: "%.2f", timings.store))",
                "total_s": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
            // Another writer may have stored the same content meanwhile: say
            // what this store did, not what was planned.
            if result.created { return .stored(documentID: result.documentID, pages: pages.count) }
            let changed = (result.added + result.replaced).sorted()
            if changed.isEmpty { return .alreadyStored(documentID: result.documentID) }
            return .addedPages(documentID: result.documentID, pages: changed)
        } catch let error where error is PDFError || error is ImageDecodingError || error is SourceFile.ReadError {
            // The content itself is bad: recorded as a failed document (unless a
            // ready one stands for it; a bad page range then only fails the request).
            let reason = String(describing: error)
            let document = record
            var within: DocumentStore.Within?
            if let failed = hooks.failed {
                within = { id, c in try await failed(id, reason, c) }
            }
            let failure = within
            let id = try await withDatabase("recording the failure", shouldStop: shouldStop) { c in
                try await self.store.storeFailure(document, error: reason, within: failure, on: c)
            }
            logger.info("document failed", metadata: ["source": "\(record.sourceURI)", "document": "\(id)", "reason": "\(reason)"])
            return .failed(documentID: id, reason: reason)
        }
    }

    /// What to embed of a source: the selected pages not stored yet (all of
    /// them with `force`), checked against the limits.
    struct Plan {
        var pages: [Int]
        var sourcePageCount: Int
        var title: String?
        var renderer: PDFRenderer?

        init(source: SourceFile, options: IngestOptions, stored: [Int]) throws {
            switch source.kind {
            case .pdf:
                let pdf = try PDFRenderer(data: source.data)
                guard pdf.pageCount > 0 else { throw PDFError.noPages }
                let selected = options.pages.pages(of: pdf.pageCount)
                guard !selected.isEmpty else {
                    throw PDFError.pageOutOfRange(requested: options.pages.description, pages: pdf.pageCount)
                }
                let have = Set(stored)
                pages = options.force ? selected : selected.filter { !have.contains($0) }
                sourcePageCount = pdf.pageCount
                title = pdf.title
                renderer = pdf
            case .png, .jpeg:
                pages = stored.contains(1) && !options.force ? [] : [1]
                sourcePageCount = 1
            case nil:
                throw SourceFile.ReadError.unsupported(source.path)
            }
            // All pages are held until the one transaction that stores them.
            guard pages.count <= options.maximumPages else {
                throw PDFError.tooManyPages(selected: pages.count, limit: options.maximumPages)
            }
        }
    }

    struct EmbeddedPages {
        let pages: [NewPage]
        let timings: IngestTimings
    }

    /// Images of one batch of pages, and how long making them took.
    private struct RenderedBatch: Sendable {
        let images: [RGBImage]
        let seconds: Double
    }

    /// The plan's pages rendered and embedded, in order. The next batch is
    /// rendered (or decoded) on another thread while the model embeds this
    /// one, so the model never waits for poppler after the first batch.
    private func embed(_ plan: Plan, of source: SourceFile, options: IngestOptions, shouldStop: @Sendable () -> Bool,
                       progress: @Sendable (PageProgress) -> Void) async throws -> EmbeddedPages {
        var timings = IngestTimings()
        let grid = model.patchGrid
        var stored: [NewPage] = []
        let numbers = plan.pages
        let batches = stride(from: 0, to: numbers.count, by: batchSize).map {
            Array(numbers[$0..<min($0 + batchSize, numbers.count)])
        }
        let (renderer, alpha, dpi) = (plan.renderer, promptFormat.alphaHandling, options.dpi)
        @Sendable func render(_ batch: [Int]) throws -> RenderedBatch {
            let clock = Date()
            let images = try batch.map { number -> RGBImage in
                if let renderer { return try renderer.render(page: number, dpi: dpi) }
                return try RGBImage.decode(source.data, source: source.path, alpha: alpha)
            }
            return RenderedBatch(images: images, seconds: Date().timeIntervalSince(clock))
        }
        // One batch ahead, never more: rendering is cheap next to the model,
        // and every rendered page is held in memory until it is embedded.
        var next = batches.first.map { batch in Task.detached { try render(batch) } }
        defer { next?.cancel() }
        for (index, batch) in batches.enumerated() {
            if shouldStop() { throw IngestInterrupted() }
            guard let pending = next else { break }
            let rendered = try await pending.value
            next = index + 1 < batches.count ? Task.detached { [batch = batches[index + 1]] in try render(batch) } : nil
            let images = rendered.images
            timings.render += rendered.seconds
            var clock = Date()
            let vectors = try model.embedDocuments(images, format: promptFormat)
            timings.embed += Date().timeIntervalSince(clock)
            clock = Date()
            let pooled = try vectors.map { try TokenPooling.hierarchical($0, factor: options.poolFactor).vectors }
            timings.pool += Date().timeIntervalSince(clock)
            for (index, (image, vector)) in zip(images, pooled).enumerated() {
                // Pooled rows are cluster means, not grid patches: no grid.
                var page = NewPage(pageNumber: batch[index], width: image.width, height: image.height, embedding: vector,
                                   patchGrid: options.poolFactor > 1 ? 0 : grid)
                page.poolFactor = options.poolFactor
                page.image = try options.storedImage(of: image)
                stored.append(page)
            }
            progress(PageProgress(source: source.path, pagesDone: stored.count, pagesTotal: numbers.count))
            await Task.yield()
        }
        timings.pages = stored.count
        return EmbeddedPages(pages: stored, timings: timings)
    }

    /// Work on a connection of the pool, retried while the database is away
    /// (the daemon's queue updates use it too).
    func withDatabase<T: Sendable>(_ what: String, shouldStop: @escaping @Sendable () -> Bool,
                                           _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Retry.connectionFailures(logger: logger, what: what, shouldStop: shouldStop) {
            try await self.client.withConnection { c in try await body(c) }
        }
    }
}
