import HTTPTypes
import Hummingbird

/// Cross-origin access for the listed origins only (`--cors-origin`): their
/// pages may call the API from a browser, with an API key. Off unless
/// configured: the search page is served by the server itself and needs none.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let origins: Set<String>

    static let methods = "GET, POST, DELETE, OPTIONS"
    static let headers = "Authorization, Content-Type"

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response)
        async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            // Unknown origins get no CORS headers: the browser then refuses them the answer.
            return try await next(request, context)
        }
        var response: Response
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            // A preflight: answered here, before access control (browsers send it without credentials).
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = Self.methods
            response.headers[.accessControlAllowHeaders] = Self.headers
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        return response
    }
}
