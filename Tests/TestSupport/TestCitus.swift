import ColPaliStorage
import Foundation
import PostgresNIO

/// A Citus coordinator for the scale-out tests: `COLPALI_TEST_CITUS_URL`
/// names a database on it with the citus and colpali extensions and workers
/// added (docs/scale-out.md sets one up). Citus keeps its cluster metadata
/// per database, so the tests share that one database and empty it first;
/// without the variable they are skipped, saying so.
public enum TestCitus {
    public static let variable = "COLPALI_TEST_CITUS_URL"
    public static let skipReason =
        "no Citus cluster: set COLPALI_TEST_CITUS_URL to a coordinator's database (docs/scale-out.md) to run the Citus tests"

    public static var settings: ConnectionSettings? {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else { return nil }
        return try? ConnectionSettings(url: url)
    }

    public static var isAvailable: Bool { settings != nil }

    /// The coordinator's database without colpali's tables (and their
    /// shards) or functions: as before the first migration.
    public static func reset(_ settings: ConnectionSettings) async throws {
        try await Database.withConnection(settings, logger: TestPostgres.logger) { c in
            for statement in [
                "DROP TABLE IF EXISTS pages, documents, collections, ingest_jobs, schema_migrations CASCADE",
                "DROP FUNCTION IF EXISTS colpali_tenant_restricted(), pages_check_dimension(), ingest_jobs_notify() CASCADE",
            ] {
                try await c.query(PostgresQuery(unsafeSQL: statement), logger: TestPostgres.logger)
            }
        }
    }
}
