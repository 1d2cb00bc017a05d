import ArgumentParser
import ColPaliIngest
import Foundation

/// How documents are ingested (defaults for queued jobs in `run`).
struct IngestFlags: ParsableArguments {
    @Option(help: "Rendering resolution for PDF pages (pdf2image's default).")
    var dpi: Double = PDFRenderer.defaultDPI

    @Option(help: ArgumentHelp("Pages to ingest, e.g. 1-5,8,10- (default: all).", valueName: "range"))
    var pages: String?

    @Flag(help: "Re-embed documents already stored, replacing them atomically.")
    var force = false

    @Option(help: ArgumentHelp("Also store each rendered page: none, jpeg or png.", valueName: "format"))
    var storeImages: String = "none"

    @Option(help: "Pages per forward pass of the model (1-64).")
    var batchSize: Int = 4

    @Option(help: ArgumentHelp("Most pages a document may have (all are held in memory until stored, about 0.5 MB each).",
                               valueName: "n"))
    var maxPages: Int = IngestOptions.defaultMaximumPages

    @Option(help: ArgumentHelp("Title for the document(s) (default: the PDF's own).", valueName: "text"))
    var title: String?

    @Option(help: ArgumentHelp("A JSON object stored as the documents' metadata.", valueName: "json"))
    var metadata: String = "{}"

    func validate() throws {
        _ = try options()
        guard (1...64).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 64") }
        guard (1...1_000_000).contains(maxPages) else { throw ValidationError("--max-pages must be between 1 and 1000000") }
    }

    /// The flags as a job's options object: what `--queue` stores, and what
    /// `options()` applies now, so both are checked by the same code.
    func jobObject() throws -> [String: Any] {
        var object: [String: Any] = ["dpi": dpi, "force": force, "store_images": storeImages]
        if let pages { object["pages"] = pages }
        if let title { object["title"] = title }
        guard let metadataObject = try? JSONSerialization.jsonObject(with: Data(metadata.utf8)) else {
            throw ValidationError("--metadata must be a JSON object")
        }
        object["metadata"] = metadataObject
        return object
    }

    func options() throws -> IngestOptions {
        var defaults = IngestOptions()
        defaults.maximumPages = maxPages
        do {
            return try defaults.applying(job: jobObject())
        } catch let error as IngestOptions.OptionError {
            throw ValidationError(error.description)
        }
    }

    /// The options as a job's JSON text (for --queue).
    func jobJSON() throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: jobObject(), options: [.sortedKeys]), as: UTF8.self)
    }
}
