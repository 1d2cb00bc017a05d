import ArgumentParser
import ColPaliIngest
import ColPaliStorage
import Foundation

/// How documents are ingested (defaults for queued jobs in `run`).
struct IngestFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Collection the pages go to (created on first use for the model). Default: $COLPALI_COLLECTION, else default.",
                               valueName: "name"))
    var collection: String?

    @Option(help: ArgumentHelp("Tenant inside the collection (for applications that partition by tenant). Default: $COLPALI_TENANT, else none.",
                               valueName: "name"))
    var tenant: String?

    @Option(help: "Rendering resolution for PDF pages (pdf2image's default).")
    var dpi: Double = PDFRenderer.defaultDPI

    @Option(help: ArgumentHelp("Pages to ingest, e.g. 1-5,8,10- (default: all).", valueName: "range"))
    var pages: String?

    @Option(help: ArgumentHelp("Hierarchical token pooling: keep about 1/n of each page's vectors (1: all; 3 keeps ~98% of retrieval quality). Pooled pages have no similarity maps.",
                               valueName: "n"))
    var poolFactor: Int = 1

    @Flag(help: "Embed the selected pages again where they are stored, replacing them atomically.")
    var force = false

    @Option(help: ArgumentHelp("Also store each rendered page: none, jpeg or png.", valueName: "format"))
    var storeImages: String = "none"

    @Option(help: "Pages per forward pass of the model (1-64).")
    var batchSize: Int = 4

    @Option(help: ArgumentHelp("Most pages a document may have (all are held in memory until stored, about 0.5 MB each).",
                               valueName: "n"))
    var maxPages: Int = IngestOptions.defaultMaximumPages

    @Option(help: ArgumentHelp("Title for the document(s) (default: the stored one, else the PDF's own).", valueName: "text"))
    var title: String?

    @Option(help: ArgumentHelp("A JSON object stored as the documents' metadata (default: the stored one, else {}).",
                               valueName: "json"))
    var metadata: String?

    func validate() throws {
        _ = try options()
        guard (1...64).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 64") }
        guard (1...1_000_000).contains(maxPages) else { throw ValidationError("--max-pages must be between 1 and 1000000") }
    }

    /// The collection named by the flag or $COLPALI_COLLECTION.
    var collectionName: String {
        collection ?? ProcessInfo.processInfo.environment["COLPALI_COLLECTION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Collection.defaultName
    }

    /// The flags as a job's options: what `--queue` stores, and what
    /// `options()` applies now, so both are checked by the same code.
    func jobOptions() throws -> JobOptions {
        var job = JobOptions()
        job.collection = collectionName
        job.tenant = tenant ?? ProcessInfo.processInfo.environment["COLPALI_TENANT"].flatMap { $0.isEmpty ? nil : $0 }
        job.dpi = dpi
        job.force = force
        job.pages = pages
        job.poolFactor = poolFactor
        guard let store = IngestOptions.ImageStorage(rawValue: storeImages) else {
            throw ValidationError("--store-images must be none, jpeg or png")
        }
        job.storeImages = store
        job.title = title
        if let metadata {
            guard let object = Metadata(json: metadata) else { throw ValidationError("--metadata must be a JSON object") }
            job.metadata = object
        }
        return job
    }

    func options() throws -> IngestOptions {
        var defaults = IngestOptions()
        defaults.maximumPages = maxPages
        do {
            return try defaults.applying(jobOptions())
        } catch let error as IngestOptions.OptionError {
            throw ValidationError(error.description)
        }
    }

    /// The options as a job's JSON text (for --queue).
    func jobJSON() throws -> String {
        try jobOptions().jsonText()
    }
}
