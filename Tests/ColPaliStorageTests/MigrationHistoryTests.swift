import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// Every migration carries existing data forward: a database made by each
/// earlier schema, holding data, is migrated to the latest and keeps it all,
/// searchable.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct MigrationHistoryTests {
    let logger = TestPostgres.logger

    func run(_ settings: ConnectionSettings, _ sql: String) async throws {
        try await Database.withConnection(settings, logger: logger) { c in
            for statement in SQLScript.statements(sql) { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
    }

    func value<T: PostgresDecodable & Sendable>(_ settings: ConnectionSettings, _ sql: String, as: T.Type) async throws -> T {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first!.decode(T.self)
        }
    }

    /// Data as each version's schema accepts it: a document with two pages
    /// (before 0005 also a failed one of another model), and (from 0003) a
    /// queued and a finished job.
    func populate(_ settings: ConnectionSettings, version: Int) async throws {
        if version >= 5 {
            try await run(settings, """
                INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
                VALUES ('default', 'name:old/model', 'old/model', 2, 'transformers');
                INSERT INTO documents (collection_id, source_uri, content_hash, title, page_count, source_page_count, status)
                SELECT id, 'file:///old/report.pdf', sha256('report'), 'Old report', 2, 2, 'ready' FROM collections;
                """)
        } else {
            try await run(settings, """
                INSERT INTO documents (source_uri, content_hash, title, page_count, model, prompt_format, embedding_dim, status)
                VALUES ('file:///old/report.pdf', sha256('report'), 'Old report', 2, 'old/model', 'transformers', 2, 'ready');
                INSERT INTO documents (source_uri, content_hash, title, model, prompt_format, embedding_dim, status, error)
                VALUES ('file:///old/broken.pdf', sha256('broken'), NULL, 'other/model', 'engine-0.3.4', 3, 'failed', 'damaged');
                """)
        }
        // From 0006 to 0008 pages were multihalfvec in the rows layout (the
        // extension 1.2 and 1.3 wrote no other), which 0009 rewrites.
        try await run(settings, ((6...8).contains(version) ? "SET colpali.sign_planes = off;\n" : "") + """
            INSERT INTO pages (document_id, page_number, width, height, embedding, patch_grid)
            SELECT id, n, 100, 100, ARRAY[[n, 0.1], [0.5, n]]::real[], 1 FROM documents, generate_series(1, 2) n
            WHERE status = 'ready';
            """)
        if version >= 3 {
            try await run(settings, """
                INSERT INTO ingest_jobs (source_uri, options) VALUES ('/inbox/waiting.pdf', '{"dpi": 100}');
                INSERT INTO ingest_jobs (source_uri, status, document_id, finished_at)
                SELECT 'file:///old/report.pdf', 'done', id, now() FROM documents WHERE status = 'ready';
                """)
        }
    }

    @Test(arguments: 0...8)
    func aDatabaseAtAnEarlierVersionKeepsItsData(version: Int) async throws {
        let all = try Migration.load(from: RepositoryPaths.migrations)
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        // As the extension was when that schema was current: 1.0.
        try await run(settings, "CREATE EXTENSION colpali VERSION '1.0'")
        _ = try await Migrator(migrations: Array(all.prefix(version)), logger: logger).migrate(settings)
        if version >= 1 { try await populate(settings, version: version) }
        let report = try await Migrator(migrations: all, logger: logger).migrate(settings)
        #expect(report.currentVersion == all.last?.version)
        if version == 0 { try await populate(settings, version: all.count) }

        #expect(try await value(settings, "SELECT extversion FROM pg_extension WHERE extname = 'colpali'", as: String.self)
            == String(try String(contentsOf: RepositoryPaths.root.appendingPathComponent("sql/colpali.control"), encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("default_version") }!.split(separator: "'")[1]))
        #expect(try await value(settings, "SELECT count(*) FROM documents WHERE title = 'Old report' AND status = 'ready'", as: Int.self) == 1)
        #expect(try await value(settings, "SELECT count(*) FROM pages", as: Int.self) == 2)
        // Still searchable, with the functions of the current extension.
        #expect(try await value(settings, """
            SELECT round(max(maxsim('{{1,0},{0,1}}'::real[], embedding))::numeric, 3)::text FROM pages
            """, as: String.self) == "4.000")
        #expect(try await value(settings, """
            SELECT array_length(maxsim_rowmax('{{1,0}}'::real[], embedding), 1) FROM pages LIMIT 1
            """, as: Int.self) == 1)
        // 0009: the codes live in the page (sign planes), where the prefilter reads them.
        #expect(try await value(settings, "SELECT count(*) FROM pages WHERE binary_quantize(embedding) = binary_quantize(embedding::real[])", as: Int.self) == 2)
        #expect(try await value(settings, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'pages'::regclass AND attname = 'embedding_codes' AND NOT attisdropped", as: Int.self) == 0)
        // Stored in sign planes: a 1-byte length, the 8-byte header, then per
        // row a code byte and two 2-byte magnitudes (the rows layout: 17).
        #expect(try await value(settings, "SELECT string_agg(pg_column_size(embedding)::text, ',') FROM pages", as: String.self) == "19,19")
        #expect(try await value(settings, """
            SELECT string_agg(maxsim_hamming(binary_quantize('{{1,1},{1,-1}}'::real[]), embedding, 2)::text, ',' ORDER BY page_number) FROM pages
            """, as: String.self) == "2,2")
        // 0006: the vectors in half precision, each value the nearest half.
        #expect(try await value(settings, """
            SELECT min(pg_typeof(embedding)::text) || ' ' || string_agg(embedding::text, ' ' ORDER BY page_number) FROM pages
            """, as: String.self) == "multihalfvec {{1,0.099975586},{0.5,1}} {{2,0.099975586},{0.5,2}}")
        // Out of line and uncompressed, where maxsim streams the page and
        // the prefilter reads the codes at its start.
        #expect(try await value(settings, """
            SELECT string_agg(attname::text || '=' || attstorage::text, ' ' ORDER BY attname) FROM pg_attribute
            WHERE attrelid = 'pages'::regclass AND attname IN ('embedding', 'embedding_codes') AND NOT attisdropped
            """, as: String.self) == "embedding=e")
        // 0007: pages stored before pooling existed were not pooled.
        #expect(try await value(settings, "SELECT string_agg(pool_factor::text, ',') FROM pages", as: String.self) == "1,1")
        // 0005: documents went to collections by model; nothing else moved.
        if version >= 1 {
            #expect(try await value(settings, """
                SELECT string_agg(c.name || ' ' || c.model_identity || ' ' || c.embedding_dim || ' ' || c.prompt_format || ' '
                                  || (SELECT count(*) FROM documents d WHERE d.collection_id = c.id), ', ' ORDER BY c.name)
                FROM collections c
                """, as: String.self) == (version >= 5 ? "default name:old/model 2 transformers 1"
                                          : "default name:old/model 2 transformers 1, default-2 name:other/model 3 engine-0.3.4 1"))
            #expect(try await value(settings, """
                SELECT count(*) FROM documents WHERE tenant = '' AND source_uri = 'file:///old/report.pdf' AND source_page_count = 2
                """, as: Int.self) == 1)
            if version < 5 {
                #expect(try await value(settings, "SELECT error FROM documents WHERE status = 'failed'", as: String.self) == "damaged")
            }
        }
        #expect(try await value(settings, "SELECT count(*) FROM pages WHERE tenant = ''", as: Int.self) == 2)
        if version >= 3 || version == 0 {
            #expect(try await value(settings, "SELECT string_agg(status, ',' ORDER BY id) FROM ingest_jobs", as: String.self) == "queued,done")
        }
    }
}
