import Logging
import PostgresNIO

extension LocalCluster {
    /// Starts the cluster if needed (creating it on first use) and makes sure
    /// the `colpali` database exists. Migrations are the caller's next step.
    public func open(logger: Logger) async throws -> ConnectionSettings {
        try start(logger: logger)
        let settings = connectionSettings
        try await Database.withConnection(settings.with(database: "postgres"), logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT 1 FROM pg_database WHERE datname = \(Self.databaseName)", logger: logger)
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                logger.info("creating database", metadata: ["database": "\(Self.databaseName)"])
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(Self.databaseName)"), logger: logger)
            }
        }
        return settings
    }
}
