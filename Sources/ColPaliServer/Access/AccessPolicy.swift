/// Who may do what: the decision alone, from what a request shows (its
/// Authorization header and whether it came over loopback), so that it can
/// be tested without a server.
///
/// - A valid key grants its scopes, from anywhere.
/// - A request without a key may read, and only from this machine
///   (loopback or a Unix socket). Behind a reverse proxy on the same
///   machine every request looks local: configure keys there.
/// - A wrong key is refused even from this machine: it is a mistake the
///   client should hear about.
public struct AccessPolicy: Sendable {
    public let keys: APIKeys

    public init(keys: APIKeys) { self.keys = keys }

    /// The caller a request was decided to be.
    public struct Caller: Sendable, Equatable {
        /// The key's name, or nil for an anonymous local caller.
        public let keyName: String?
        public let scopes: Set<Scope>
    }

    public enum Denial: Error, Equatable {
        /// No usable credentials: 401.
        case unauthenticated(String)
        /// Authenticated, but the scope is missing: 403.
        case forbidden(String)
    }

    /// The caller, from the Authorization header's value (nil when absent).
    public func caller(authorization: String?, isLocal: Bool) -> Result<Caller, Denial> {
        guard let authorization else {
            guard isLocal else {
                return .failure(.unauthenticated("an API key is required (Authorization: Bearer KEY) for requests from other machines"))
            }
            return .success(Caller(keyName: nil, scopes: [.read]))
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .failure(.unauthenticated("the Authorization header must be 'Bearer KEY'"))
        }
        guard let key = keys.key(for: parts[1].trimmingCharacters(in: .whitespaces)) else {
            return .failure(.unauthenticated("the API key is not valid"))
        }
        return .success(Caller(keyName: key.name, scopes: key.scopes))
    }

    /// Whether a caller may use a route needing `scope`.
    public func check(_ caller: Caller, needs scope: Scope) -> Denial? {
        if caller.scopes.contains(scope) { return nil }
        if caller.keyName == nil {
            return .unauthenticated("\(scope.rawValue) access needs an API key with the \(scope.rawValue) scope")
        }
        return .forbidden("the API key '\(caller.keyName!)' does not have the \(scope.rawValue) scope")
    }
}
