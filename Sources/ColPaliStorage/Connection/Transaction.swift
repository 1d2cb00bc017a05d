import Logging
import PostgresNIO

extension PostgresConnection {
    /// PostgresNIO's transaction, rolled back on any error, that rethrows the
    /// body's own error as it was thrown: callers catch their own error types
    /// (DocumentStoreError.alreadyStored, a migration's failure) instead of a
    /// PostgresTransactionError wrapping them. Errors of BEGIN, COMMIT or the
    /// rollback itself stay wrapped.
    public func transaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await withTransaction(logger: logger, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            if let cause = error.closureError, error.rollbackError == nil { throw cause }
            throw error
        }
    }
}
