import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct MigratorTests {
    let logger = TestPostgres.logger

    func tables(_ settings: ConnectionSettings) async throws -> Set<String> {
        try await Database.withConnection(settings, logger: logger) { connection in
            var names = Set<String>()
            let rows = try await connection.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", logger: logger)
            for try await name in rows.decode(String.self) { names.insert(name) }
            return names
        }
    }

    @Test func emptyDatabaseGetsTheSchemaThenNothingMore() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        let migrator = try TestPostgres.migrator()
        let first = try await migrator.migrate(settings)
        #expect(first.applied.map(\.version) == migrator.migrations.map(\.version))
        #expect(try await tables(settings).isSuperset(of: ["documents", "pages", "schema_migrations"]))
        let second = try await migrator.migrate(settings)
        #expect(second.applied.isEmpty)
        #expect(second.currentVersion == migrator.latestVersion)
        try await Database.withConnection(settings, logger: logger) { connection in
            try await migrator.requireCurrent(on: connection)
            let rows = try await connection.query("SELECT extname FROM pg_extension WHERE extname = 'colpali'", logger: logger)
            #expect(try await rows.collect().count == 1)
        }
    }

    @Test func concurrentMigrationsApplyOnce() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        let migrator = try TestPostgres.migrator()
        async let a = migrator.migrate(settings)
        async let b = migrator.migrate(settings)
        let reports = try await [a, b]
        #expect(reports.map(\.applied.count).sorted() == [0, migrator.migrations.count])
    }

    @Test func editedAppliedMigrationIsRefusedNamingTheFile() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        var migrations = try Migration.load(from: RepositoryPaths.migrations)
        let original = migrations[0]
        migrations[0] = try Migration(fileName: original.fileName, contents: Data((original.sql + "\n-- edited\n").utf8))
        let tampered = Migrator(migrations: migrations, logger: logger)
        do {
            _ = try await tampered.migrate(settings)
            Issue.record("a changed migration was accepted")
        } catch let error as StorageError {
            #expect(error.description.contains(original.fileName))
            #expect(error.description.contains("changed after it was applied"))
        }
    }

    @Test func schemaBehindAndAheadAreReported() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        let all = try Migration.load(from: RepositoryPaths.migrations)
        let extra = try Migration(fileName: String(format: "%04d_future.sql", all.count + 1),
                                  contents: Data("CREATE TABLE future_table (x int);".utf8))
        let newer = Migrator(migrations: all + [extra], logger: logger)
        try await Database.withConnection(settings, logger: logger) { connection in
            do {
                try await newer.requireCurrent(on: connection)
                Issue.record("schema behind not reported")
            } catch let error as StorageError {
                #expect(error.description.contains("needs version"))
            }
        }
        _ = try await newer.migrate(settings)
        let older = Migrator(migrations: all, logger: logger)
        try await Database.withConnection(settings, logger: logger) { connection in
            do {
                try await older.requireCurrent(on: connection)
                Issue.record("schema ahead not reported")
            } catch let error as StorageError {
                #expect(error.description.contains("newer than this colpali knows"))
            }
        }
    }

    @Test func failingMigrationRollsBackEntirely() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        let all = try Migration.load(from: RepositoryPaths.migrations)
        let broken = try Migration(fileName: String(format: "%04d_broken.sql", all.count + 1),
                                   contents: Data("CREATE TABLE half_done (x int);\nSELECT no_such_function();".utf8))
        do {
            _ = try await Migrator(migrations: all + [broken], logger: logger).migrate(settings)
            Issue.record("broken migration succeeded")
        } catch let error as StorageError {
            #expect(error.description.contains(broken.fileName))
        }
        #expect(try await !tables(settings).contains("half_done"))
    }

    @Test func missingExtensionOnTheServerIsExplained() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        let bad = try Migration(fileName: "0001_core.sql",
                                contents: Data("CREATE EXTENSION IF NOT EXISTS colpali_not_installed;".utf8))
        do {
            _ = try await Migrator(migrations: [bad], logger: logger).migrate(settings)
            Issue.record("missing extension not reported")
        } catch let error as StorageError {
            #expect(error.description.contains("not installed on the database server"))
            #expect(error.description.contains("colpali_not_installed.control"))
        }
    }

    @Test func schemaKeepsDocumentsAndPagesConsistent() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("""
                INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
                VALUES ('two', 'name:m', 'm', 2, 'transformers')
                """, logger: logger)
            try await c.query("""
                INSERT INTO documents (collection_id, tenant, source_uri, content_hash, status)
                SELECT id, 'acme', 'file:///a.pdf', decode(repeat('ab', 32), 'hex'), 'ready' FROM collections
                """, logger: logger)
            try await c.query("""
                INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
                SELECT id, 'acme', 1, 10, 10, '{{1,-1},{0.5,2}}'::real[], 1 FROM documents
                """, logger: logger)
            // The codes are derived by the extension, and kept in the page.
            let codes = try await c.query("SELECT encode(binary_quantize(embedding), 'hex') FROM pages", logger: logger)
                .collect().first?.decode(String.self)
            #expect(codes == "80c0")
            // Each bad row is refused by the constraint meant for it.
            func state(_ body: () async throws -> Void) async -> String? {
                do { try await body(); return nil } catch { return DatabaseErrors.sqlState(error) }
            }
            // The same content twice in one collection and tenant.
            #expect(await state {
                try await c.query("""
                    INSERT INTO documents (collection_id, tenant, source_uri, content_hash)
                    SELECT id, 'acme', 'file:///b.pdf', decode(repeat('ab', 32), 'hex') FROM collections
                    """, logger: logger)
            } == "23505")
            // The same page twice.
            #expect(await state {
                try await c.query("""
                    INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
                    SELECT id, 'acme', 1, 10, 10, '{{1,1}}'::real[], 0 FROM documents
                    """, logger: logger)
            } == "23505")
            // A 1-D embedding.
            #expect(await state {
                try await c.query("""
                    INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
                    SELECT id, 'acme', 2, 10, 10, '{1,1}'::real[], 0 FROM documents
                    """, logger: logger)
            } == "2202E")
            // Vectors of another dimension than the collection's model makes.
            #expect(await state {
                try await c.query("""
                    INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
                    SELECT id, 'acme', 3, 10, 10, '{{1,1,1}}'::real[], 0 FROM documents
                    """, logger: logger)
            } == "23514")
            // A page of another tenant than its document's.
            #expect(await state {
                try await c.query("""
                    INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
                    SELECT id, 'other', 4, 10, 10, '{{1,1}}'::real[], 0 FROM documents
                    """, logger: logger)
            } == "23503")
            // Deleting the collection deletes its documents and their pages.
            try await c.query("DELETE FROM collections", logger: logger)
            let left = try await c.query("SELECT (SELECT count(*) FROM pages) + (SELECT count(*) FROM documents)", logger: logger)
                .collect().first?.decode(Int.self)
            #expect(left == 0)
        }
    }
}
