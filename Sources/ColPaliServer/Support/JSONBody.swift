import Foundation
import Hummingbird
import NIOCore

/// JSON in and out, snake_case on the wire.
enum JSONBody {
    /// Request bodies larger than this are refused (413): a full-size query
    /// multi-vector (1,030 x 128 numbers as text) is about 1.5 MB.
    static let maximumBytes = 8 << 20

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The body decoded, or an APIError that says what is wrong with it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", "the body must be application/json")
        }
        let buffer = try await collect(request, upTo: maximumBytes, what: "the body")
        guard buffer.readableBytes > 0 else { throw APIError.invalid("the body is empty: send a JSON object") }
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw APIError.invalid("the body is not valid: \(APIError.describe(error))")
        }
    }

    /// The whole body, or a 413 that says the limit.
    static func collect(_ request: Request, upTo limit: Int, what: String) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "too_large", "\(what) is larger than \(limit) bytes")
        }
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
