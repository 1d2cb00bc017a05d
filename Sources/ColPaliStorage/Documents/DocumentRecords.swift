import ColPaliCore
import Foundation

/// What identifies a document: its content, within a collection and tenant.
public struct DocumentKey: Sendable, Hashable {
    public var collectionID: Int
    /// The application's partition; "" is none.
    public var tenant: String
    /// SHA-256 of the source file's bytes.
    public var contentHash: Data

    public init(collectionID: Int, tenant: String = "", contentHash: Data) {
        self.collectionID = collectionID
        self.tenant = tenant
        self.contentHash = contentHash
    }
}

/// A document about to be stored: what `documents` holds about it.
public struct NewDocument: Sendable {
    public var key: DocumentKey
    public var sourceURI: String
    public var title: String?
    public var metadata: Metadata
    /// Pages in the source file (1 for an image).
    public var sourcePageCount: Int?

    public init(key: DocumentKey, sourceURI: String, title: String?, metadata: Metadata = [:], sourcePageCount: Int?) {
        self.key = key
        self.sourceURI = sourceURI
        self.title = title
        self.metadata = metadata
        self.sourcePageCount = sourcePageCount
    }
}

/// One embedded page about to be stored.
public struct NewPage: Sendable {
    public var pageNumber: Int
    public var width: Int
    public var height: Int
    /// The rendered page, compressed, when images are kept.
    public var image: PageImage?
    public var embedding: MultiVector
    /// Side of the square grid the leading rows of `embedding` are patches of.
    public var patchGrid: Int
    /// The token pooling factor its vectors were pooled with (1: none).
    public var poolFactor = 1

    public init(pageNumber: Int, width: Int, height: Int, image: PageImage? = nil, embedding: MultiVector, patchGrid: Int) {
        self.pageNumber = pageNumber
        self.width = width
        self.height = height
        self.image = image
        self.embedding = embedding
        self.patchGrid = patchGrid
    }
}

/// A document already stored under the same key.
public struct StoredDocument: Sendable, Equatable {
    public let id: Int
    public let status: DocumentStatus
    public let title: String?
    public let metadata: Metadata
    /// Page numbers stored, in order.
    public let storedPages: [Int]
    public let sourcePageCount: Int?
}

/// What a store did.
public struct StoreResult: Sendable, Equatable {
    public let documentID: Int
    /// Whether the document was new (not stored ready before).
    public let created: Bool
    /// Page numbers that were not stored before.
    public let added: [Int]
    /// Page numbers stored before and embedded again.
    public let replaced: [Int]
}

public enum DocumentStoreError: Error, CustomStringConvertible, Sendable {
    case leaseLost(job: Int)

    public var description: String {
        switch self {
        case .leaseLost(let job): return "job \(job) was taken over by another worker (its lease had expired); this result was discarded"
        }
    }
}
