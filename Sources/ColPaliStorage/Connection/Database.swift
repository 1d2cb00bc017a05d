import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Opening connections: a quick probe that fails fast with a clear message,
/// then a pooled client for the real work.
public enum Database {
    /// One direct connection, for checks and for work that needs a single
    /// session (migrations, advisory locks, LISTEN). Fails fast when the server
    /// cannot be reached.
    public static func withConnection<T: Sendable>(
        _ settings: ConnectionSettings,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection: PostgresConnection
        // The connection's own lifecycle chatter (opened, closing, cleaned up)
        // is not what -v is for; queries still log at the caller's level.
        var connectionLogger = logger
        connectionLogger.logLevel = max(logger.logLevel, .notice)
        do {
            connection = try await PostgresConnection.connect(
                configuration: settings.connectionConfiguration, id: 1, logger: connectionLogger)
        } catch {
            throw DatabaseErrors.connectionFailure(error, settings: settings)
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// A connection pool for the duration of `body`. The server is probed
    /// first, so an unreachable database is one clear error rather than a
    /// minute of pool retries.
    public static func withClient<T: Sendable>(
        _ settings: ConnectionSettings,
        logger: Logger,
        maximumConnections: Int = 4,
        _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        try await withConnection(settings, logger: logger) { _ in }
        let client = makeClient(settings, maximumConnections: maximumConnections, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A pool that connects lazily once its `run()` is running.
    public static func makeClient(_ settings: ConnectionSettings, maximumConnections: Int = 4, logger: Logger) -> PostgresClient {
        var configuration = settings.clientConfiguration
        configuration.options.maximumConnections = maximumConnections
        // The pool's own chatter (e.g. a lease requested a moment before run()
        // starts) is not the caller's business unless it is an error.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        return PostgresClient(configuration: configuration, backgroundLogger: background)
    }
}
