import Foundation

/// A JSON value: what document metadata holds (a `jsonb` object in the
/// database), typed instead of passed around as text.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// Document metadata: a JSON object.
public typealias Metadata = [String: JSONValue]

extension JSONValue {
    /// Whether a NUL character is in any key or string: PostgreSQL's text and
    /// jsonb cannot hold one, so such a value must be refused before it is bound.
    public var holdsNUL: Bool {
        switch self {
        case .string(let text): return text.unicodeScalars.contains("\0")
        case .array(let values): return values.contains(where: \.holdsNUL)
        case .object(let members): return members.contains { $0.key.unicodeScalars.contains("\0") || $0.value.holdsNUL }
        case .null, .bool, .number: return false
        }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// Parses a JSON object; nil for anything else (an array, a number, bad JSON).
    public init?(json text: String) {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8)) else { return nil }
        self = object
    }

    /// Compact JSON text, keys sorted (what is bound as jsonb).
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Where a document stands.
public enum DocumentStatus: String, Sendable, Codable, CaseIterable {
    case pending, processing, ready, failed
}
