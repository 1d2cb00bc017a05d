import HTTPTypes
import Hummingbird

/// Decides the caller of every request (401 for a wrong or missing key
/// where one is needed) and applies the rate limit, before any route runs.
/// Paths anyone may read (the page, health, the OpenAPI document) pass
/// without a caller unless they bring a key, which must then be valid.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let policy: AccessPolicy
    let limiter: RateLimiter?
    let publicPaths: Set<String>

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response)
        async throws -> Response {
        var context = context
        let authorization = request.headers[.authorization]
        if authorization != nil || !isPublic(request.uri.path) {
            switch policy.caller(authorization: authorization, isLocal: context.isLocal) {
            case .success(let caller): context.caller = caller
            case .failure(let denial): throw APIError(denial)
            }
        }
        if let limiter, let wait = limiter.admit(context.rateKey) {
            let seconds = max(1, Int(wait.seconds.rounded(.up)))
            var error = APIError(.tooManyRequests, code: "rate_limited",
                                 "too many requests: at most \(limiter.limit.perSecond) a second (burst \(Int(limiter.limit.burst)))")
            error.headers[.retryAfter] = "\(seconds)"
            throw error
        }
        return try await next(request, context)
    }

    func isPublic(_ path: String) -> Bool { publicPaths.contains(path) }
}

/// Refuses a route to callers without `scope`.
struct RequireScope: RouterMiddleware {
    typealias Context = ServerContext
    let scope: Scope
    let policy: AccessPolicy

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response)
        async throws -> Response {
        guard let caller = context.caller else {
            throw APIError(.unauthorized, code: "unauthorized", "an API key is required")
        }
        if let denial = policy.check(caller, needs: scope) { throw APIError(denial) }
        return try await next(request, context)
    }
}

extension APIError {
    init(_ denial: AccessPolicy.Denial) {
        switch denial {
        case .unauthenticated(let message):
            self.init(.unauthorized, code: "unauthorized", message)
            headers[.wwwAuthenticate] = "Bearer"
        case .forbidden(let message):
            self.init(.forbidden, code: "forbidden", message)
        }
    }
}
