import ColPaliCore
import Foundation

/// A queued job's options (`ingest_jobs.options`), as JSON:
/// `{"collection", "tenant", "dpi", "force", "pages", "pool_factor", "store_images", "title", "metadata"}`.
/// An unknown key or a value of the wrong type is refused: a job fails saying
/// why rather than running with settings its author did not ask for.
public struct JobOptions: Codable, Sendable, Equatable {
    public var collection: String?
    public var tenant: String?
    public var dpi: Double?
    public var force: Bool?
    public var pages: String?
    /// Hierarchical token pooling: about rows / factor vectors per page (1: none).
    public var poolFactor: Int?
    public var storeImages: ImageStorage?
    public var title: String?
    public var metadata: Metadata?

    /// Whether and how rendered pages are kept with their vectors.
    public enum ImageStorage: String, Sendable, CaseIterable, Codable {
        case none, jpeg, png
    }

    /// An option the queue's format does not allow, in words.
    public struct InvalidOption: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case collection, tenant, dpi, force, pages, title, metadata
        case storeImages = "store_images"
        case poolFactor = "pool_factor"
    }

    /// Any key, to find the unknown ones.
    struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue).sorted() }

    /// As the `options` column holds them: JSON with sorted keys. Throws
    /// for what JSON cannot hold (a NaN or infinite dpi).
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
    /// Longest title accepted (it is shown in every result list).
    public static let maximumTitleLength = 1_000

    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { CodingKeys(rawValue: $0) == nil }) {
            throw InvalidOption(message: "unknown option '\(unknown)' (known: \(Self.keys.joined(separator: ", ")))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        collection = try Self.field(c, .collection, "collection must be a collection name") { try c.decodeIfPresent(String.self, forKey: .collection) }
        tenant = try Self.field(c, .tenant, "tenant must be text") { try c.decodeIfPresent(String.self, forKey: .tenant) }
        dpi = try Self.field(c, .dpi, "dpi must be a number in 10...1200") {
            // JSON true would decode as 1.0 through NSNumber on some platforms: refuse it first.
            if (try? c.decodeIfPresent(Bool.self, forKey: .dpi)) != nil { throw InvalidOption(message: "dpi must be a number") }
            return try c.decodeIfPresent(Double.self, forKey: .dpi)
        }
        force = try Self.field(c, .force, "force must be true or false") { try c.decodeIfPresent(Bool.self, forKey: .force) }
        pages = try Self.field(c, .pages, "pages must be a page range like \"1-5,8\"") { try c.decodeIfPresent(String.self, forKey: .pages) }
        poolFactor = try Self.field(c, .poolFactor, "pool_factor must be a whole number in 1...\(TokenPooling.maximumFactor)") {
            if (try? c.decodeIfPresent(Bool.self, forKey: .poolFactor)) != nil { throw InvalidOption(message: "pool_factor must be a number") }
            return try c.decodeIfPresent(Int.self, forKey: .poolFactor)
        }
        storeImages = try Self.field(c, .storeImages, "store_images must be true, false, \"jpeg\" or \"png\"") {
            if let flag = try? c.decodeIfPresent(Bool.self, forKey: .storeImages) { return flag ? .jpeg : ImageStorage.none }
            return try c.decodeIfPresent(ImageStorage.self, forKey: .storeImages)
        }
        title = try Self.field(c, .title, "title must be text of at most \(JobOptions.maximumTitleLength) characters") {
            try c.decodeIfPresent(String.self, forKey: .title)
        }
        metadata = try Self.field(c, .metadata, "metadata must be a JSON object") { try c.decodeIfPresent(Metadata.self, forKey: .metadata) }
        let texts = [collection, tenant, pages, title].compactMap { $0 }.map(JSONValue.string) + (metadata.map { [.object($0)] } ?? [])
        if texts.contains(where: \.holdsNUL) {
            throw InvalidOption(message: "an option holds a NUL character, which PostgreSQL cannot store")
        }
    }

    /// A field's value, or the field's own message when it has the wrong type.
    static func field<T>(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys, _ message: String,
                         _ decode: () throws -> T?) throws -> T? {
        do { return try decode() } catch { throw InvalidOption(message: message) }
    }

    package static func mismatch(_ context: DecodingError.Context) -> String {
        "option \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
    }
}
