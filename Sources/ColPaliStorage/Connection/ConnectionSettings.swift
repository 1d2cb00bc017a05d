import Foundation
import NIOSSL
import PostgresNIO

/// Where and how to connect: parsed from a libpq-style URL such as
/// `postgresql://user:secret@db.example.com:5432/colpali?sslmode=require` or
/// `postgresql:///colpali?host=/path/to/socket/dir&user=colpali`.
public struct ConnectionSettings: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself: `<directory>/.s.PGSQL.<port>`.
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require, verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode

    public init(endpoint: Endpoint, username: String, password: String? = nil, database: String,
                tlsMode: TLSMode = .prefer) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
    }

    /// The same server, another database (used to create databases).
    public func with(database: String) -> ConnectionSettings {
        var copy = self
        copy.database = database
        return copy
    }

    /// For messages and logs: the URL without the password.
    public var redacted: String {
        let user = username.isEmpty ? "" : "\(username)@"
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "postgresql://\(user)\(shownHost):\(port)/\(database)"
        case .unixSocket(let path):
            let directory = (path as NSString).deletingLastPathComponent
            return "postgresql://\(user)/\(database)?host=\(directory)"
        }
    }

    public var connectionConfiguration: PostgresConnection.Configuration {
        switch endpoint {
        case .tcp(let host, let port):
            return PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: connectionTLS)
        case .unixSocket(let path):
            return PostgresConnection.Configuration(
                unixSocketPath: path, username: username, password: password, database: database)
        }
    }

    public var clientConfiguration: PostgresClient.Configuration {
        switch endpoint {
        case .tcp(let host, let port):
            return PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: clientTLS)
        case .unixSocket(let path):
            return PostgresClient.Configuration(
                unixSocketPath: path, username: username, password: password, database: database)
        }
    }

    private var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tlsMode != .verifyFull {
            // libpq's prefer/require encrypt without checking the certificate.
            configuration.certificateVerification = .none
        }
        return configuration
    }

    private var connectionTLS: PostgresConnection.Configuration.TLS {
        switch tlsMode {
        case .disable: return .disable
        case .prefer: return (try? .prefer(.init(configuration: tlsConfiguration))) ?? .disable
        case .require, .verifyFull: return (try? .require(.init(configuration: tlsConfiguration))) ?? .disable
        }
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable: return .disable
        case .prefer: return .prefer(tlsConfiguration)
        case .require, .verifyFull: return .require(tlsConfiguration)
        }
    }
}
