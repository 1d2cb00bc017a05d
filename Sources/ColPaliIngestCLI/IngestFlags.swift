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

    @Option(help: "Pages per forward pass of the model.")
    var batchSize: Int = 4

    @Option(help: ArgumentHelp("Title for the document(s) (default: the PDF's own).", valueName: "text"))
    var title: String?

    @Option(help: ArgumentHelp("A JSON object stored as the documents' metadata.", valueName: "json"))
    var metadata: String = "{}"

    func validate() throws {
        _ = try options()
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func options() throws -> IngestOptions {
        var options = IngestOptions()
        guard dpi >= 10, dpi <= 1200 else { throw ValidationError("--dpi must be between 10 and 1200") }
        options.dpi = dpi
        if let pages {
            guard let range = PageRange(pages) else { throw ValidationError("--pages '\(pages)' is not like 1-5,8,10-") }
            options.pages = range
        }
        options.force = force
        guard let storage = IngestOptions.ImageStorage(rawValue: storeImages) else {
            throw ValidationError("--store-images must be none, jpeg or png")
        }
        options.storeImages = storage
        options.title = title
        guard let object = try? JSONSerialization.jsonObject(with: Data(metadata.utf8)), object is [String: Any] else {
            throw ValidationError("--metadata must be a JSON object")
        }
        options.metadataJSON = metadata
        return options
    }

    /// The options as a job's JSON object (for --queue).
    func jobJSON() throws -> String {
        var object: [String: Any] = ["dpi": dpi, "force": force]
        if let pages { object["pages"] = pages }
        if storeImages != "none" { object["store_images"] = storeImages }
        if let title { object["title"] = title }
        object["metadata"] = try JSONSerialization.jsonObject(with: Data(metadata.utf8))
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
