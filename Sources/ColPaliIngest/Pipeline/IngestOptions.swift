import ColPaliCore
import ColPaliModel
import ColPaliStorage
import Foundation

/// How a document is ingested. The same settings come from command-line
/// flags (`colpali-ingest add`) or a queued job's options (``JobOptions``).
public struct IngestOptions: Sendable, Equatable {
    public typealias ImageStorage = JobOptions.ImageStorage

    /// The collection the pages go to (created on first use for the model).
    public var collection = Collection.defaultName
    /// The tenant inside it; "" is none.
    public var tenant = ""
    public var dpi: Double = PDFRenderer.defaultDPI
    public var pages: PageRange = .all
    /// Hierarchical token pooling at ingest: each page keeps about
    /// rows / poolFactor vectors (1: every vector; 3 keeps ~98% of retrieval
    /// quality with a third of the storage). Pooled pages have no patch
    /// grid, so no similarity maps.
    public var poolFactor = 1
    /// Embed the selected pages again even where they are stored.
    public var force = false
    public var storeImages: ImageStorage = .none
    public var jpegQuality = 85
    /// nil keeps a stored document's title (a new one takes the PDF's own).
    public var title: String?
    /// nil keeps a stored document's metadata (a new one gets {}).
    public var metadata: Metadata?
    /// Pages one document may have: all are embedded before the one
    /// transaction that stores them, about 0.5 MB each. Set by whoever runs
    /// ingest, never by a queued job.
    public var maximumPages = IngestOptions.defaultMaximumPages
    public static let defaultMaximumPages = 2_000
    /// Longest title accepted (it is shown in every result list).
    public static let maximumTitleLength = JobOptions.maximumTitleLength
    /// Longest tenant name (`documents.tenant` allows 200).
    public static let maximumTenantLength = 200
    /// Largest document metadata, as JSON text: it is copied into every
    /// search hit of the document.
    public static let maximumMetadataBytes = 16_384
    /// Largest options text of a queued job (metadata, title and the rest).
    public static let maximumJobOptionsBytes = 65_536

    public init() {}

    public enum OptionError: Error, CustomStringConvertible, Sendable, Equatable {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let message): return message }
        }
    }

    /// A job's options over these defaults, each checked.
    public func applying(_ job: JobOptions) throws -> IngestOptions {
        var result = self
        if let collection = job.collection {
            guard Collection.isValidName(collection) else { throw OptionError.invalid("collection '\(collection)' is not a collection name") }
            result.collection = collection
        }
        if let tenant = job.tenant {
            guard tenant.count <= Self.maximumTenantLength else {
                throw OptionError.invalid("tenant must be at most \(Self.maximumTenantLength) characters")
            }
            result.tenant = tenant
        }
        if let force = job.force { result.force = force }
        if let dpi = job.dpi {
            guard PDFRenderer.dpiRange.contains(dpi) else {
                throw OptionError.invalid("dpi must be a number in \(Int(PDFRenderer.dpiRange.lowerBound))...\(Int(PDFRenderer.dpiRange.upperBound))")
            }
            result.dpi = dpi
        }
        if let text = job.pages {
            guard let range = PageRange(text) else { throw OptionError.invalid("pages must be a page range like \"1-5,8\"") }
            result.pages = range
        }
        if let factor = job.poolFactor {
            guard (1...TokenPooling.maximumFactor).contains(factor) else {
                throw OptionError.invalid("pool_factor must be a whole number in 1...\(TokenPooling.maximumFactor)")
            }
            result.poolFactor = factor
        }
        if let store = job.storeImages { result.storeImages = store }
        if let title = job.title {
            guard title.count <= Self.maximumTitleLength else {
                throw OptionError.invalid("title must be text of at most \(Self.maximumTitleLength) characters")
            }
            result.title = title
        }
        if let metadata = job.metadata {
            guard metadata.jsonText.utf8.count <= Self.maximumMetadataBytes else {
                throw OptionError.invalid("metadata must be at most \(Self.maximumMetadataBytes) bytes of JSON")
            }
            result.metadata = metadata
        }
        return result
    }

    /// A job's options as JSON text (the `options` column), checked and applied.
    public func applying(jobJSON text: String) throws -> IngestOptions {
        try applying(Self.decodeJobOptions(text))
    }

    /// The options of a job, or a message naming what is wrong with them.
    static func decodeJobOptions(_ text: String) throws -> JobOptions {
        guard text.utf8.count <= maximumJobOptionsBytes else {
            throw OptionError.invalid("options must be at most \(maximumJobOptionsBytes) bytes of JSON")
        }
        do {
            return try JSONDecoder().decode(JobOptions.self, from: Data(text.utf8))
        } catch let error as JobOptions.InvalidOption {
            throw OptionError.invalid(error.message)
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            throw OptionError.invalid(JobOptions.mismatch(context))
        } catch let DecodingError.valueNotFound(_, context) where !context.codingPath.isEmpty {
            throw OptionError.invalid(JobOptions.mismatch(context))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw OptionError.invalid("options must be a JSON object (the text is not valid JSON)")
        } catch {
            throw OptionError.invalid("options must be a JSON object")
        }
    }
}

extension IngestOptions {
    /// The page image kept with the vectors, as `storeImages` asks (nil for none).
    func storedImage(of image: RGBImage) throws -> PageImage? {
        switch storeImages {
        case .none: return nil
        case .jpeg: return PageImage(data: try image.jpegData(quality: jpegQuality), type: .jpeg)
        case .png: return PageImage(data: try image.pngData(), type: .png)
        }
    }
}
