import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Retrying database work across lost connections: a restarted or briefly
/// unreachable server delays the work, it does not lose it.
public enum Retry {
    /// True for failures of the connection rather than of the statement.
    public static func isConnectionFailure(_ error: any Error) -> Bool {
        if let transaction = error as? PostgresTransactionError {
            let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError
            return inner.map(isConnectionFailure) ?? false
        }
        if let storage = error as? StorageError, case .unreachable = storage { return true }
        if let psql = error as? PSQLError {
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                // The server shutting down or restarting (admin_shutdown, crash recovery).
                let state = psql.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("57P") || state == "08006" || state == "08003"
            default:
                return false
            }
        }
        return error is ChannelError || error is IOError
    }

    /// Runs `body`, retrying connection failures with exponential backoff
    /// (0.5 s doubling to `maximumDelay`) until it succeeds, fails otherwise,
    /// or `shouldStop` says to give up (then the last error is thrown).
    public static func connectionFailures<T: Sendable>(
        logger: Logger,
        what: String,
        maximumDelay: Double = 30,
        shouldStop: @Sendable () -> Bool = { false },
        _ body: () async throws -> T
    ) async throws -> T {
        var delay = 0.5
        while true {
            do {
                return try await body()
            } catch where isConnectionFailure(error) && !shouldStop() {
                logger.warning("database unavailable, retrying", metadata: [
                    "while": "\(what)", "in_seconds": "\(delay)", "error": "\(DatabaseErrors.describe(error))",
                ])
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, maximumDelay)
            }
        }
    }
}
