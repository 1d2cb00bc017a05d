/// How a stored page image is encoded (its MIME type, as `pages.image_type` holds it).
public enum ImageType: String, Sendable, Codable, CaseIterable {
    case png = "image/png"
    case jpeg = "image/jpeg"
}
