import Foundation

/// How a stored page image is encoded (its MIME type, as `pages.image_type` holds it).
public enum ImageType: String, Sendable, Codable, CaseIterable {
    case png = "image/png"
    case jpeg = "image/jpeg"
}

/// A compressed rendering of a page, as stored with it.
public struct PageImage: Sendable, Equatable {
    public let data: Data
    public let type: ImageType

    public init(data: Data, type: ImageType) {
        self.data = data
        self.type = type
    }
}
