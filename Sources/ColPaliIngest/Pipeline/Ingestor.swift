import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// What became of one source.
public enum IngestOutcome: Sendable, Equatable, CustomStringConvertible {
    case stored(documentID: Int, pages: Int)
    case alreadyStored(documentID: Int)
    /// Recorded as a failed document when its content could be read.
    case failed(documentID: Int?, reason: String)

    /// For logs and messages: "stored as document 9 (2 pages)".
    public var description: String {
        switch self {
        case .stored(let id, let pages): return "stored as document \(id) (\(pages) page\(pages == 1 ? "" : "s"))"
        case .alreadyStored(let id): return "already stored as document \(id)"
        case .failed(let id?, let reason): return "failed (document \(id)): \(reason)"
        case .failed(nil, let reason): return "failed: \(reason)"
        }
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
    public var render = 0.0
    public var embed = 0.0
    public var store = 0.0
}

/// File in, page multi-vectors in Postgres: read and hash, skip content
/// already stored, render (PDF) or decode (image), embed in batches, then
/// store the document with all its pages in one transaction.
public final class Ingestor: @unchecked Sendable {
    public let model: ColPali
    public let promptFormat: PromptFormat
    public let batchSize: Int
    let database: ConnectionSettings
    let store: DocumentStore
    let logger: Logger
    let report: (@Sendable (IngestTimings) -> Void)?

    /// `report` receives the timings of every stored document (benchmarks).
    public init(model: ColPali, promptFormat: PromptFormat, batchSize: Int, database: ConnectionSettings, logger: Logger,
                report: (@Sendable (IngestTimings) -> Void)? = nil) {
        self.report = report
        self.model = model
        self.promptFormat = promptFormat
        self.batchSize = max(1, batchSize)
        self.database = database
        store = DocumentStore(logger: logger)
        self.logger = logger
    }

    /// Number of pages the file will yield (for progress totals); 0 when it
    /// cannot be read (ingest will then report why).
    /// Reads the file but does not hash it.
    public static func plannedPages(_ path: String, options: IngestOptions) -> Int {
        guard let data = try? FileReader.read(path: path) else { return 0 }
        switch SourceFile.kind(of: data, path: path) {
        case .png, .jpeg: return 1
        case .pdf: return (try? PDFRenderer(data: data)).map { options.pages.pages(of: $0.pageCount).count } ?? 0
        case nil: return 0
        }
    }

    /// Ingests the file at `path`. A file that cannot be read fails (the
    /// job, when there is one) without recording a document.
    public func ingest(path: String, options: IngestOptions, job: JobClaim? = nil,
                       shouldStop: @escaping @Sendable () -> Bool = { false },
                       progress: @escaping @Sendable (PageProgress) -> Void = { _ in }) async throws -> IngestOutcome {
        let source: SourceFile
        do {
            source = try SourceFile(path: path)
        } catch {
            return try await unreadable(path, reason: String(describing: error), job: job, shouldStop: shouldStop)
        }
        return try await ingest(source, options: options, job: job, shouldStop: shouldStop, progress: progress)
    }

    /// Fails the job (if any) for a source that could not be read: nothing
    /// about the file is recorded but the reason.
    public func unreadable(_ path: String, reason: String, job: JobClaim?,
                           shouldStop: @escaping @Sendable () -> Bool = { false }) async throws -> IngestOutcome {
        if let job {
            try await withDatabase("recording a failed job", shouldStop: shouldStop) { c in
                try await JobQueue.fail(job, error: reason, on: c, logger: self.logger)
            }
        }
        logger.info("cannot ingest", metadata: ["source": "\(path)", "reason": "\(reason)"])
        return .failed(documentID: nil, reason: reason)
    }

    /// Ingests content already read.
    public func ingest(_ source: SourceFile, options: IngestOptions, job: JobClaim? = nil,
                       shouldStop: @escaping @Sendable () -> Bool = { false },
                       progress: @escaping @Sendable (PageProgress) -> Void = { _ in }) async throws -> IngestOutcome {
        let started = Date()
        let path = source.path
        let record = NewDocument(
            sourceURI: source.uri, contentHash: source.contentHash, title: options.title, metadataJSON: options.metadataJSON,
            model: model.checkpoint.identifier, promptFormat: promptFormat.rawValue, embeddingDim: model.configuration.embeddingDim)

        let existing = try await withDatabase("checking for the document", shouldStop: shouldStop) { c in
            try await self.store.existing(contentHash: source.contentHash, on: c)
        }
        if let existing, existing.status == "ready", !options.force {
            if existing.model != record.model {
                logger.warning("already stored with another model; --force re-embeds", metadata: [
                    "source": "\(path)", "document": "\(existing.id)", "stored_model": "\(existing.model)"])
            }
            try await complete(job, documentID: existing.id, shouldStop: shouldStop)
            logger.info("already stored", metadata: ["source": "\(path)", "document": "\(existing.id)"])
            return .alreadyStored(documentID: existing.id)
        }

        do {
            let (pages, title, embedded) = try await embedPages(of: source, options: options, shouldStop: shouldStop, progress: progress)
            var timings = embedded
            var document = record
            document.title = options.title ?? title
            let storeStarted = Date()
            let id = try await withDatabase("storing the document", shouldStop: shouldStop) { [document] c in
                try await self.store.store(document, pages: pages, replace: options.force, job: job, on: c)
            }
            timings.store = Date().timeIntervalSince(storeStarted)
            report?(timings)
            logger.info("stored document", metadata: [
                "source": "\(path)", "document": "\(id)", "pages": "\(pages.count)",
                "render_s": "\(String(format: "%.2f", timings.render))", "embed_s": "\(String(format: "%.2f", timings.embed))",
                "store_s": "\(String(format: "%.2f", timings.store))",
                "total_s": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
            return .stored(documentID: id, pages: pages.count)
        } catch let error where error is PDFError || error is ImageDecodingError || error is SourceFile.ReadError {
            // The content itself is bad: recorded as a failed document.
            return try await recordFailure(record, reason: String(describing: error), job: job, shouldStop: shouldStop)
        } catch DocumentStoreError.alreadyStored(let id) {
            // Another worker stored the same content meanwhile.
            try await complete(job, documentID: id, shouldStop: shouldStop)
            return .alreadyStored(documentID: id)
        }
    }

    /// Marks a queued job done without storing anything (the content is already stored).
    private func complete(_ job: JobClaim?, documentID: Int, shouldStop: @escaping @Sendable () -> Bool) async throws {
        guard let job else { return }
        try await withDatabase("completing the job", shouldStop: shouldStop) { c in
            try await JobQueue.complete(job, documentID: documentID, on: c, logger: self.logger)
        }
    }

    private func recordFailure(_ record: NewDocument, reason: String, job: JobClaim?,
                               shouldStop: @escaping @Sendable () -> Bool) async throws -> IngestOutcome {
        let id = try await withDatabase("recording the failure", shouldStop: shouldStop) { c in
            try await self.store.storeFailure(record, error: reason, job: job, on: c)
        }
        // The caller reports it (one line in `add`, a warning in the daemon).
        logger.info("document failed", metadata: ["source": "\(record.sourceURI)", "document": "\(id)", "reason": "\(reason)"])
        return .failed(documentID: id, reason: reason)
    }

    /// Rendered and embedded pages, in order; the PDF's title.
    private func embedPages(of source: SourceFile, options: IngestOptions, shouldStop: @Sendable () -> Bool,
                            progress: @Sendable (PageProgress) -> Void) async throws -> ([NewPage], String?, IngestTimings) {
        var timings = IngestTimings()
        var renderer: PDFRenderer?
        var numbers = [1]
        var title: String?
        switch source.kind {
        case .pdf:
            let pdf = try PDFRenderer(data: source.data)
            guard pdf.pageCount > 0 else { throw PDFError.noPages }
            numbers = options.pages.pages(of: pdf.pageCount)
            guard !numbers.isEmpty else { throw PDFError.pageOutOfRange(requested: options.pages.description, pages: pdf.pageCount) }
            // All pages are held until the one transaction that stores them.
            guard numbers.count <= options.maximumPages else {
                throw PDFError.tooManyPages(selected: numbers.count, limit: options.maximumPages)
            }
            renderer = pdf
            title = pdf.title
        case .png, .jpeg:
            break
        case nil:
            throw SourceFile.ReadError.unsupported(source.path)
        }
        let grid = model.configuration.vision.patchesPerSide
        var stored: [NewPage] = []
        for batchStart in stride(from: 0, to: numbers.count, by: batchSize) {
            if shouldStop() { throw IngestInterrupted() }
            let batch = Array(numbers[batchStart..<min(batchStart + batchSize, numbers.count)])
            var clock = Date()
            let images = try batch.map { number -> RGBImage in
                if let renderer { return try renderer.render(page: number, dpi: options.dpi) }
                return try RGBImage.decode(source.data, source: source.path, alpha: promptFormat.alphaHandling)
            }
            timings.render += Date().timeIntervalSince(clock)
            clock = Date()
            let vectors = try model.embedDocuments(images, format: promptFormat)
            timings.embed += Date().timeIntervalSince(clock)
            for (index, (image, vector)) in zip(images, vectors).enumerated() {
                var page = NewPage(pageNumber: batch[index], width: image.width, height: image.height,
                                   embedding: MultiVector(rows: vector.rows, dim: vector.dim, values: vector.values),
                                   patchGrid: grid)
                switch options.storeImages {
                case .none: break
                case .jpeg: page.image = try image.jpegData(quality: options.jpegQuality); page.imageType = "image/jpeg"
                case .png: page.image = try image.pngData(); page.imageType = "image/png"
                }
                stored.append(page)
            }
            progress(PageProgress(source: source.path, pagesDone: stored.count, pagesTotal: numbers.count))
            await Task.yield()
        }
        timings.pages = stored.count
        return (stored, title, timings)
    }

    private func withDatabase<T: Sendable>(_ what: String, shouldStop: @escaping @Sendable () -> Bool,
                                           _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Retry.connectionFailures(logger: logger, what: what, shouldStop: shouldStop) {
            try await Database.withConnection(self.database, logger: self.logger) { c in try await body(c) }
        }
    }
}
