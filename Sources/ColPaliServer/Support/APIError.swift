import ColPaliCore
import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// An error as the API answers it: a status and a JSON body
/// `{"error": {"status": 400, "code": "invalid_request", "message": "..."}}`.
///
/// Messages state the problem and never carry SQL, file paths of the server
/// or stack traces: what went wrong inside is logged, with the request id
/// the answer carries.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    public let status: HTTPResponse.Status
    /// Stable, for programs: invalid_request, not_found, unauthorized, ...
    public let code: String
    public let message: String
    /// Extra headers (Retry-After, WWW-Authenticate).
    var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func invalid(_ message: String) -> APIError { APIError(.badRequest, code: "invalid_request", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    struct Body: Codable, Equatable {
        struct Detail: Codable, Equatable {
            let status: Int
            let code: String
            let message: String
        }
        let error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(error: .init(status: status.code, code: code, message: message))
        let data = try JSONEncoder().encode(body)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    /// The answer for any error a route throws.
    static func from(_ error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as SearchError:
            switch error {
            case .pageNotFound, .pageNumberNotFound, .documentNotFound, .jobNotFound: return .notFound(error.description)
            case .noPages: return APIError(.conflict, code: "no_pages", error.description)
            case .modelRequired:
                return APIError(.badRequest, code: "model_required",
                                "this server has no model loaded: send query_embedding instead of a question")
            case .pooledPage: return APIError(.conflict, code: "pooled_page", error.description)
            default: return .invalid(error.description)
            }
        case let error as ProcessorError:
            // A question the model does not take (too long, empty): the caller's to fix.
            return .invalid(error.description)
        case let error as CollectionError:
            if case .notFound = error { return .notFound(error.description) }
            return .invalid(error.description)
        case let error as DecodingError:
            return .invalid("the request body is not valid: \(describe(error))")
        case let error as HTTPError:
            // The router's own (unknown path, wrong method, body too large).
            let message = error.body ?? error.status.reasonPhrase
            return APIError(error.status, code: code(for: error.status), message)
        case let error as PSQLError where DatabaseErrors.sqlState(error)?.hasPrefix("22") == true:
            // A data exception: a value the request sent that PostgreSQL refuses, not an outage.
            logger.info("database refused a value", metadata: ["error": "\(DatabaseErrors.describe(error))"])
            return .invalid("a value in the request cannot be used by the database: \(DatabaseErrors.describe(error))")
        case is PSQLError, is StorageError:
            logger.error("database error", metadata: ["error": "\(DatabaseErrors.describe(error))"])
            return APIError(.serviceUnavailable, code: "database_unavailable", "the database could not answer this request")
        default:
            logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.internalServerError, code: "internal", "the request failed inside the server")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: return "not_found"
        case .methodNotAllowed: return "method_not_allowed"
        case .contentTooLarge: return "too_large"
        case .unsupportedMediaType: return "unsupported_media_type"
        default: return status.code < 500 ? "invalid_request" : "internal"
        }
    }

    /// A decoding error in words, with the JSON path of the field.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            // The decoder turned snake_case into camelCase: name fields as the client wrote them.
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\(StrictKeys.snakeCase($0.stringValue))" }.joined()
            return keys.isEmpty ? "the body" : String(keys.drop(while: { $0 == "." }))
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)) must be \(typeName(type))"
        case .valueNotFound(let type, let context): return "\(path(context)) must be \(typeName(type)), not null"
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "\(parent == "the body" ? "" : parent + ".")\(StrictKeys.snakeCase(key.stringValue)) is missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

/// Turns every error into the JSON answer above, and gives each answer the
/// request id the log lines carry.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let answer = APIError.from(error, logger: context.logger)
            if answer.status.code >= 500 {
                context.logger.warning("answered \(answer.status.code)", metadata: ["code": "\(answer.code)"])
            }
            return try answer.response(from: request, context: context)
        }
    }
}
