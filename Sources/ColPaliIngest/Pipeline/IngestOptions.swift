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
    /// Pages one document may have: all are embedded before the one
    /// transaction that stores them, about 0.5 MB each. Set by whoever runs
    /// ingest, never by a queued job.
    public var maximumPages = IngestOptions.defaultMaximumPages
    public static let defaultMaximumPages = 2_000

    public init() {}

    public enum OptionError: Error, CustomStringConvertible, Sendable {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let message): return message }
        }
    }

    /// The keys a job's options object may have.
    public static let jobKeys = ["dpi", "force", "metadata", "pages", "store_images", "title"]
    /// Longest title accepted (it is shown in every result list).
    public static let maximumTitleLength = 1_000

    /// A job's options over these defaults: {"force", "pages", "dpi",
    /// "store_images", "title", "metadata"}. An unknown key or a value of
    /// the wrong type is an error, not ignored: a job fails saying why
    /// rather than running with settings its author did not ask for.
    public func applying(job options: [String: Any]) throws -> IngestOptions {
        var result = self
        if let unknown = options.keys.sorted().first(where: { !Self.jobKeys.contains($0) }) {
            throw OptionError.invalid("unknown option '\(unknown)' (known: \(Self.jobKeys.joined(separator: ", ")))")
        }
        if let force = options["force"] {
            guard let flag = force as? Bool else { throw OptionError.invalid("force must be true or false") }
            result.force = flag
        }
        if let value = options["dpi"] {
            guard let dpi = (value as? NSNumber)?.doubleValue, !(value is Bool), PDFRenderer.dpiRange.contains(dpi) else {
                throw OptionError.invalid("dpi must be a number in \(Int(PDFRenderer.dpiRange.lowerBound))...\(Int(PDFRenderer.dpiRange.upperBound))")
            }
            result.dpi = dpi
        }
        if let value = options["pages"] {
            guard let text = value as? String, let range = PageRange(text) else {
                throw OptionError.invalid("pages must be a page range like \"1-5,8\"")
            }
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
        if let value = options["title"] {
            guard let title = value as? String, title.count <= Self.maximumTitleLength else {
                throw OptionError.invalid("title must be text of at most \(Self.maximumTitleLength) characters")
            }
            result.title = title
        }
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
