import ColPaliStorage
import Foundation

/// One page found by a search.
public struct PageHit: Sendable, Equatable {
    public let rank: Int
    public let score: Float
    public let documentID: Int
    public let pageID: Int
    public let pageNumber: Int
    public let sourceURI: String
    public let title: String?
    /// The document's metadata.
    public let metadata: Metadata
    /// The stored page image, when asked for and stored.
    public let image: PageImage?
}

/// A question embedded for search: its multi-vector, the id of the model that
/// made it (the stored pages' model must match), and each row's token.
public struct EmbeddedQuestion: Sendable, Equatable {
    public let embedding: MultiVector
    public let model: String
    public let tokens: [String]
}

/// Which pages a search may return. Applied in the candidate stage, as bind
/// parameters.
public struct SearchFilter: Sendable, Equatable {
    public var documentIDs: [Int]?
    /// Documents whose metadata contains this object (jsonb @>).
    public var metadataContains: Metadata?
    /// Documents whose source URI starts with this.
    public var sourcePrefix: String?
    public var createdAfter: Date?
    public var createdBefore: Date?
    /// Documents of this tenant only.
    public var tenant: String?

    public init(documentIDs: [Int]? = nil, metadataContains: Metadata? = nil, sourcePrefix: String? = nil,
                createdAfter: Date? = nil, createdBefore: Date? = nil, tenant: String? = nil) {
        self.documentIDs = documentIDs
        self.metadataContains = metadataContains
        self.sourcePrefix = sourcePrefix
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.tenant = tenant
    }
}

/// A stored page: which document and page it is, the size of the image the
/// model saw, where the document came from, and its stored image if any.
public struct StoredPage: Sendable, Equatable {
    public let pageID: Int
    public let documentID: Int
    public let pageNumber: Int
    public let width: Int
    public let height: Int
    public let sourceURI: String
    /// SHA-256 of the source file when it was ingested.
    public let contentHash: Data
    /// The stored rendering; nil when there is none or it was not asked for.
    public let image: PageImage?
    /// Whether ingest kept a rendering (known without reading it).
    public let hasStoredImage: Bool
    /// The collection the page belongs to.
    public let collection: String
}

/// A stored document, as listed.
public struct DocumentSummary: Sendable, Equatable, Codable {
    public let id: Int
    public let collection: String
    public let tenant: String
    public let sourceURI: String
    public let title: String?
    /// Pages stored.
    public let pageCount: Int?
    /// Pages in the source file.
    public let sourcePageCount: Int?
    public let status: DocumentStatus
    public let error: String?
    public let createdAt: Date
}

public enum SearchError: Error, CustomStringConvertible, Sendable, Equatable {
    case emptyQuestion
    case noPages(collection: String)
    case dimensionMismatch(model: Int, stored: Int)
    case invalidFilter(String)
    /// A numeric argument outside what is accepted.
    case outOfRange(name: String, value: Int, allowed: ClosedRange<Int>)
    case pageNotFound(Int)
    case documentNotFound(Int)
    case jobNotFound(Int)
    case pageNumberNotFound(document: Int, page: Int)
    /// The page's vectors were pooled at ingest: they are cluster means,
    /// not the patches of a grid a map could be drawn on.
    case pooledPage(page: Int, factor: Int)
    case modelRequired
    /// Probes were asked for, but the pages have no built colpali_ivf index.
    case noCandidateIndex

    public var description: String {
        switch self {
        case .emptyQuestion:
            return "the question is empty"
        case .noPages(let collection):
            return "collection '\(collection)' has no searchable pages yet"
        case .dimensionMismatch(let model, let stored):
            return "the query has \(model)-dimensional vectors but the collection's pages have \(stored): they come from another model"
        case .invalidFilter(let reason):
            return "invalid filter: \(reason)"
        case .outOfRange(let name, let value, let allowed):
            return "\(name) \(value) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case .pageNotFound(let id):
            return "there is no page with id \(id)"
        case .documentNotFound(let id):
            return "there is no document with id \(id)"
        case .jobNotFound(let id):
            return "there is no ingest job with id \(id)"
        case .pageNumberNotFound(let document, let page):
            return "document \(document) has no page \(page)"
        case .pooledPage(let page, let factor):
            return "page \(page) was stored with token pooling (factor \(factor)): its vectors are clusters of patches, so it has no similarity map"
        case .modelRequired:
            return "searching by text needs a model"
        case .noCandidateIndex:
            return "probes apply to a colpali_ivf index, and the pages have no built one"
        }
    }
}
