import Logging
import PostgresNIO

extension PostgresConnection {
    /// A transaction that rethrows the body's own error as it was thrown, so
    /// callers catch their own error types (a lost lease, a migration's
    /// failure) instead of a wrapper.
    ///
    /// Unlike PostgresNIO's `withTransaction`, it does not send ROLLBACK on a
    /// connection that has failed: the server has rolled the transaction back
    /// already, and PostgresNIO 1.33 can wait forever for the answer to a
    /// query written to a connection the server is closing (seen when a
    /// session is terminated inside the transaction: one run in four hung).
    /// The connection is closed instead, so no pool hands it out again.
    public func transaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await query("BEGIN;", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            if Retry.isConnectionFailure(error) {
                try? await close()
            } else {
                do {
                    try await query("ROLLBACK;", logger: logger)
                } catch {
                    // The body's error says what went wrong; a connection that
                    // cannot roll back is of no further use.
                    try? await close()
                }
            }
            throw error
        }
        try await query("COMMIT;", logger: logger)
        return value
    }
}
