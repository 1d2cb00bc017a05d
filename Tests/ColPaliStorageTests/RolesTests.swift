import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// sql/roles.sql: the owner migrates, the writer ingests, the reader only
/// reads; each is refused what it may not do.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct RolesTests {
    let logger = TestPostgres.logger

    func run(_ settings: ConnectionSettings, _ sql: String) async throws {
        try await Database.withConnection(settings, logger: logger) { c in
            for statement in SQLScript.statements(sql) {
                try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    func refused(_ settings: ConnectionSettings, _ sql: String) async -> Bool {
        do {
            try await run(settings, sql)
            return false
        } catch {
            return DatabaseErrors.sqlState(error) == "42501"
        }
    }

    func rolesScript() throws -> String {
        try String(contentsOf: RepositoryPaths.root.appendingPathComponent("sql/roles.sql"), encoding: .utf8)
    }

    /// Logins in the groups, unique to this run (roles are cluster-wide).
    func logins(_ admin: ConnectionSettings) async throws -> (owner: ConnectionSettings, writer: ConnectionSettings,
                                                              reader: ConnectionSettings) {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        try await run(admin, """
            ALTER ROLE colpali_owner LOGIN;
            CREATE ROLE ingest_\(suffix) LOGIN IN ROLE colpali_writer;
            CREATE ROLE search_\(suffix) LOGIN IN ROLE colpali_reader;
            """)
        func login(_ name: String) -> ConnectionSettings {
            var settings = admin
            settings.username = name
            return settings
        }
        return (login("colpali_owner"), login("ingest_\(suffix)"), login("search_\(suffix)"))
    }

    @Test func eachServiceRoleDoesItsJobAndNoMore() async throws {
        let admin = try await TestPostgres.freshDatabase(migrated: false)
        try await run(admin, try rolesScript())
        let (owner, writer, reader) = try await logins(admin)

        // The owner migrates; the writer and reader may not.
        #expect(await refused(writer, "CREATE TABLE intruder (x int)"))
        _ = try await TestPostgres.migrator().migrate(owner)
        // Starting a daemon as the writer migrates nothing and needs no DDL.
        let report = try await TestPostgres.migrator().migrate(writer)
        let latest = try TestPostgres.migrator().latestVersion
        #expect(report.applied.isEmpty && report.currentVersion == latest)

        // The writer stores documents and works the queue.
        try await run(writer, """
            INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
            VALUES ('default', 'name:m', 'm', 2, 'transformers');
            INSERT INTO documents (collection_id, source_uri, content_hash, page_count, status)
            SELECT id, 'file:///a.pdf', sha256('a'), 1, 'ready' FROM collections;
            INSERT INTO pages (document_id, page_number, width, height, embedding, patch_grid)
            SELECT id, 1, 10, 10, '{{1,0},{0,1}}', 1 FROM documents;
            INSERT INTO ingest_jobs (source_uri) VALUES ('/inbox/b.pdf');
            UPDATE ingest_jobs SET status = 'running', lease_expires_at = now() + interval '1 minute', claimed_by = 'w';
            """)
        #expect(await refused(writer, "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'x', 'y')"))
        #expect(await refused(writer, "DELETE FROM schema_migrations"))
        #expect(await refused(writer, "ALTER TABLE pages ADD COLUMN x int"))
        #expect(await refused(writer, "DROP TABLE pages"))

        // The reader searches, and changes nothing.
        let score = try await Database.withConnection(reader, logger: logger) { c in
            try await c.query("SELECT maxsim('{{1,0}}'::real[], embedding) FROM pages", logger: logger).collect().first?.decode(Float.self)
        }
        #expect(score == 1)
        #expect(await refused(reader, "INSERT INTO ingest_jobs (source_uri) VALUES ('/etc/passwd')"))
        #expect(await refused(reader, "DELETE FROM documents"))
        #expect(await refused(reader, "UPDATE pages SET page_number = 2"))
        #expect(await refused(reader, "CREATE TABLE intruder (x int)"))
        #expect(await refused(reader, "DELETE FROM collections"))
    }

    /// A database migrated before the roles existed gets the same grants,
    /// and running the script twice changes nothing.
    @Test func rolesApplyToAnExistingSchemaAndTheScriptIsIdempotent() async throws {
        let admin = try await TestPostgres.freshDatabase(migrated: true)
        try await run(admin, try rolesScript())
        try await run(admin, try rolesScript())
        let (_, writer, reader) = try await logins(admin)
        try await run(writer, "INSERT INTO ingest_jobs (source_uri) VALUES ('/inbox/c.pdf')")
        #expect(await refused(writer, "DELETE FROM schema_migrations"))
        let jobs = try await Database.withConnection(reader, logger: logger) { c in
            try await c.query("SELECT count(*) FROM ingest_jobs", logger: logger).collect().first?.decode(Int.self)
        }
        #expect(jobs == 1)
        #expect(await refused(reader, "INSERT INTO ingest_jobs (source_uri) VALUES ('/x')"))
    }
}
