import Foundation

/// A document about to be stored: what `documents` holds about it.
public struct NewDocument: Sendable {
    public var sourceURI: String
    /// SHA-256 of the source file's bytes.
    public var contentHash: Data
    public var title: String?
    /// A JSON object, as text.
    public var metadataJSON: String
    public var model: String
    public var promptFormat: String
    public var embeddingDim: Int

    public init(sourceURI: String, contentHash: Data, title: String?, metadataJSON: String = "{}", model: String,
                promptFormat: String, embeddingDim: Int) {
        self.sourceURI = sourceURI
        self.contentHash = contentHash
        self.title = title
        self.metadataJSON = metadataJSON
        self.model = model
        self.promptFormat = promptFormat
        self.embeddingDim = embeddingDim
    }
}

/// One embedded page about to be stored.
public struct NewPage: Sendable {
    public var pageNumber: Int
    public var width: Int
    public var height: Int
    /// The rendered page, compressed (PNG or JPEG), when images are kept.
    public var image: Data?
    public var imageType: String?
    public var embedding: MultiVector
    /// Side of the square grid the leading rows of `embedding` are patches of.
    public var patchGrid: Int

    public init(pageNumber: Int, width: Int, height: Int, image: Data? = nil, imageType: String? = nil,
                embedding: MultiVector, patchGrid: Int) {
        self.pageNumber = pageNumber
        self.width = width
        self.height = height
        self.image = image
        self.imageType = imageType
        self.embedding = embedding
        self.patchGrid = patchGrid
    }
}

/// A document already in the table with the same content.
public struct StoredDocumentState: Sendable, Equatable {
    public let id: Int
    public let status: String
    public let model: String
}

public enum DocumentStoreError: Error, CustomStringConvertible, Sendable {
    case alreadyStored(id: Int)
    case leaseLost(job: Int)

    public var description: String {
        switch self {
        case .alreadyStored(let id): return "the same content is already stored as document \(id)"
        case .leaseLost(let job): return "job \(job) was taken over by another worker (its lease had expired); this result was discarded"
        }
    }
}
