import Hummingbird
import NIOCore

/// The request context of `colpali serve`: the peer's address (for the
/// local-only rule and anonymous rate limits) and the caller the access
/// middleware decided.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// nil for in-process test requests, which have no socket.
    public let remoteAddress: SocketAddress?
    /// Set by the access middleware before any route runs.
    public var caller: AccessPolicy.Caller?
    /// The largest request body a route collects (uploads say their own).
    public var maxUploadSize: Int { JSONBody.maximumBytes }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Loopback, a Unix socket, or no socket at all.
    public var isLocal: Bool { Self.isLocal(remoteAddress) }

    static func isLocal(_ remoteAddress: SocketAddress?) -> Bool {
        guard let remoteAddress else { return true }
        switch remoteAddress {
        case .unixDomainSocket: return true
        case .v4(let address):
            return address.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6:
            guard let ip = remoteAddress.ipAddress else { return false }
            return ip == "::1" || ip.hasPrefix("::ffff:127.")
        }
    }

    /// Who the rate limiter counts this request against.
    var rateKey: String {
        if let name = caller?.keyName { return "key:" + name }
        return "ip:" + (remoteAddress?.ipAddress ?? "local")
    }
}
