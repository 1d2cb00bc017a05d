import ColPaliSearch
import ColPaliStorage
import Foundation
import Hummingbird
import NIOCore
import PostgresNIO

/// Health, readiness, metrics and the API's own description.
struct OperationsAPI {
    let client: SearchClient
    let metrics: ServerMetrics
    let database: PostgresClient

    struct Status: Encodable {
        let status: String
        var model: String?
        var collections: Int?
    }

    /// 200 when the database answers; 503 (with the reason in the log) when not.
    func health(_ request: Request, context: ServerContext) async throws -> Response {
        do {
            _ = try await database.query("SELECT 1", logger: context.logger).collect()
        } catch {
            context.logger.warning("health check: database unreachable", metadata: ["error": "\(DatabaseErrors.describe(error))"])
            return try JSONBody.response(Status(status: "database unreachable"), status: .serviceUnavailable)
        }
        return try JSONBody.response(Status(status: "ok"))
    }

    /// 200 when the database answers and holds the colpali schema (so a
    /// search can run); 503 otherwise.
    func ready(_ request: Request, context: ServerContext) async throws -> Response {
        do {
            let collections = try await client.collections()
            return try JSONBody.response(Status(status: "ready", model: client.model?.identifier, collections: collections.count))
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": "\(DatabaseErrors.describe(error))"])
            return try JSONBody.response(Status(status: "not ready: the database or its colpali schema is not available"),
                                         status: .serviceUnavailable)
        }
    }

    /// Prometheus text format; the queue gauge is read at scrape time.
    func scrape(_ request: Request, context: ServerContext) async throws -> Response {
        do {
            metrics.setQueue(try await client.queueCounts())
        } catch {
            context.logger.warning("metrics: queue depth unavailable", metadata: ["error": "\(DatabaseErrors.describe(error))"])
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
    }

    /// The OpenAPI document, as committed (Sources/ColPaliServer/Resources/openapi.json).
    static let openAPIDocument: Data? = ServerResources.data("openapi.json")

    func openAPI(_ request: Request, context: ServerContext) async throws -> Response {
        guard let data = Self.openAPIDocument else { throw ServerResources.missing }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
