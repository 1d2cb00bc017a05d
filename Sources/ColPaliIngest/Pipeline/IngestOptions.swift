import ColPaliModel
import Foundation

/// How a document is ingested. The same settings come from command-line
/// flags (`colpali-ingest add`) or a queued job's options object.
public struct IngestOptions: Sendable, Equatable {
    public enum ImageStorage: String, Sendable, CaseIterable {
        case none, jpeg, png
    }

    public var dpi: Double = PDFRenderer.defaultDPI
    public var pages: PageRange = .all
    public var force = false
    public var storeImages: ImageStorage = .none
    public var jpegQuality = 85
    public var title: String?
    /// A JSON object, as text.
    public var metadataJSON = "{}"

    public init() {}

    public enum OptionError: Error, CustomStringConvertible, Sendable {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let message): return message }
        }
    }

    /// A job's options over these defaults: {"force", "pages", "dpi",
    /// "store_images", "title", "metadata"}.
    public func applying(job options: [String: Any]) throws -> IngestOptions {
        var result = self
        if let force = options["force"] as? Bool { result.force = force }
        if let dpi = (options["dpi"] as? NSNumber)?.doubleValue {
            guard dpi >= 10, dpi <= 1200 else { throw OptionError.invalid("dpi \(dpi) is outside 10...1200") }
            result.dpi = dpi
        }
        if let text = options["pages"] as? String {
            guard let range = PageRange(text) else { throw OptionError.invalid("page range '\(text)' is not like 1-5,8") }
            result.pages = range
        }
        if let store = options["store_images"] {
            if let flag = store as? Bool {
                result.storeImages = flag ? .jpeg : .none
            } else if let name = store as? String, let value = ImageStorage(rawValue: name) {
                result.storeImages = value
            } else {
                throw OptionError.invalid("store_images must be true, false, \"jpeg\" or \"png\"")
            }
        }
        if let title = options["title"] as? String { result.title = title }
        if let metadata = options["metadata"] {
            guard metadata is [String: Any], let data = try? JSONSerialization.data(withJSONObject: metadata),
                  let text = String(data: data, encoding: .utf8) else {
                throw OptionError.invalid("metadata must be a JSON object")
            }
            result.metadataJSON = text
        }
        return result
    }
}
