import Foundation
import NIOCore
import NIOPosix
import PostgresNIO

/// Turns PostgresNIO's errors into one-line messages.
public enum DatabaseErrors {
    /// The server's own message with its SQLSTATE, or the transport failure.
    public static func describe(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                return describe(inner)
            }
        }
        if let storage = error as? StorageError { return storage.description }
        guard let psql = error as? PSQLError else { return String(describing: error) }
        if let info = psql.serverInfo, let message = info[.message] {
            var text = message
            if let detail = info[.detail] { text += " (\(detail))" }
            if let hint = info[.hint] { text += " Hint: \(hint)" }
            return text
        }
        if let underlying = psql.underlying { return transportReason(underlying) }
        return psql.code.description
    }

    public static func sqlState(_ error: any Error) -> String? {
        if let transaction = error as? PostgresTransactionError,
           let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
            return sqlState(inner)
        }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Maps an error from opening a connection to a StorageError a user can act on.
    static func connectionFailure(_ error: any Error, settings: ConnectionSettings) -> StorageError {
        let target = settings.redacted
        let state = sqlState(error)
        switch state {
        case "28P01", "28000": return .authenticationFailed(target: target, reason: describe(error))
        case "3D000": return .databaseMissing(target: target, database: settings.database)
        default: break
        }
        if let psql = error as? PSQLError {
            if psql.code == .server { return .unreachable(target: target, reason: describe(error)) }
            if psql.code == .authMechanismRequiresPassword {
                return .authenticationFailed(target: target, reason: "the server asks for a password and none was given")
            }
            if let underlying = psql.underlying {
                return .unreachable(target: target, reason: transportReason(underlying))
            }
            return .unreachable(target: target, reason: psql.code.description)
        }
        return .unreachable(target: target, reason: transportReason(error))
    }

    static func transportReason(_ error: any Error) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENOENT: return "no server socket there"
            case EACCES: return "permission denied on the socket"
            case ETIMEDOUT: return "timed out"
            default: return String(cString: strerror(io.errnoCode))
            }
        }
        if let connect = error as? NIOConnectionError {
            if let first = connect.connectionErrors.first { return transportReason(first.error) }
            if connect.dnsAAAAError != nil || connect.dnsAError != nil { return "host name not found" }
            return "could not connect"
        }
        if let channel = error as? ChannelError {
            // Also what a server that accepts and then never answers gives:
            // PostgresNIO's connect timeout covers the startup handshake.
            if case .connectTimeout(let amount) = channel {
                return "timed out: no answer within \(amount.nanoseconds / 1_000_000_000) s"
            }
            return "connection closed"
        }
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("timeout") { return "timed out" }
        return text
    }
}
