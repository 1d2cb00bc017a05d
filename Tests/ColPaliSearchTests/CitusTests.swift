import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// Scale-out on a real Citus coordinator with workers: a database
/// distributed with its data answers every search as one server holding the
/// same data does, and ingest, deletes and tenants keep working.
@Suite(.serialized, .enabled(if: TestCitus.isAvailable, Comment(rawValue: TestCitus.skipReason)),
       .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
struct CitusTests {
    let logger = TestPostgres.logger
    let corpus = SearchClientTests()

    /// The same questions asked every way a client asks: two-stage, exact,
    /// filtered by tenant, in another collection. Each hit as its source,
    /// page and score, which do not depend on where rows were numbered.
    func answers(_ settings: ConnectionSettings) async throws -> [[String]] {
        var generator = SearchClientTests.Generator(state: 2024)
        let queries = (0..<4).map { _ in generator.matrix(6) }
        return try await SearchClient.with(database: settings, model: nil, logger: logger) { client in
            var all: [[String]] = []
            for query in queries {
                for hits in [
                    try await client.search(embedding: query, in: SearchClientTests.collection, limit: 10, candidates: 30),
                    try await client.exactSearch(embedding: query, in: SearchClientTests.collection, limit: 10),
                    try await client.search(embedding: query, in: SearchClientTests.collection, limit: 5,
                                            filter: SearchFilter(metadataContains: ["team": .string("legal")], tenant: "acme")),
                    try await client.exactSearch(embedding: query, in: "other", limit: 3),
                ] {
                    all.append(hits.map { "\($0.sourceURI) \($0.pageNumber) \($0.score) \($0.metadata["n"].map { "\($0)" } ?? "")" })
                }
            }
            return all
        }
    }

    /// Equal answers, or which question and form differ.
    func expectSame(_ answers: [[String]], _ reference: [[String]], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answers.count == reference.count, sourceLocation: sourceLocation)
        for (index, (got, expected)) in zip(answers, reference).enumerated() where got != expected {
            Issue.record("question \(index / 4), form \(index % 4): \(got) instead of \(expected)", sourceLocation: sourceLocation)
        }
    }

    func load(_ settings: ConnectionSettings) async throws {
        _ = try await corpus.corpus(settings, documents: 6, pagesEach: 5, seed: 1, tenant: "acme")
        _ = try await corpus.corpus(settings, documents: 4, pagesEach: 5, seed: 2, tenant: "globex")
        _ = try await corpus.corpus(settings, documents: 3, pagesEach: 2, collection: "other", seed: 3)
    }

    func count(_ settings: ConnectionSettings, _ sql: String) async throws -> Int {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first!.decode(Int.self)
        }
    }

    @Test func anExistingDatabaseIsDistributedAndAnswersAsOneServerDoes() async throws {
        let citus = try #require(TestCitus.settings)
        try await TestCitus.reset(citus)
        _ = try await TestPostgres.migrator().migrate(citus)
        let single = try await TestPostgres.freshDatabase()
        try await load(citus)
        try await load(single)
        let reference = try await answers(single)
        #expect(reference.allSatisfy { !$0.isEmpty })
        expectSame(try await answers(citus), reference)

        let outcome = try await Database.withConnection(citus, logger: logger) { c in
            try await Distribution.distribute(shardCount: 4, on: c, logger: logger)
        }
        #expect(!outcome.alreadyDistributed && outcome.shards == 4 && outcome.workers >= 1)
        #expect(outcome.documents == 13 && outcome.pages == 56 && outcome.propagatesSetLocal)
        // The rows now live on the workers, in four shards each for documents and pages.
        #expect(try await count(citus, """
            SELECT count(DISTINCT nodeport)::int FROM pg_dist_shard_placement sp JOIN pg_dist_shard s USING (shardid)
            WHERE s.logicalrelid = 'pages'::regclass
            """) == min(outcome.workers, 4))
        expectSame(try await answers(citus), reference)

        // Again: nothing changes.
        let again = try await Database.withConnection(citus, logger: logger) { c in
            try await Distribution.distribute(shardCount: 4, on: c, logger: logger)
        }
        #expect(again.alreadyDistributed && again.shards == 4)

        // Writes keep their guarantees: the same content is one document,
        // deleting a collection takes its documents and pages on every shard.
        _ = try await corpus.corpus(citus, documents: 2, pagesEach: 5, seed: 1, tenant: "acme")
        #expect(try await count(citus, "SELECT count(*)::int FROM documents") == 13)
        let deleted = try await Database.withConnection(citus, logger: logger) { c in
            try await CollectionStore(logger: logger).delete("other", on: c)
        }
        #expect(deleted)
        #expect(try await count(citus, "SELECT count(*)::int FROM pages") == 50)
    }

    /// A database distributed under schema 5 (pages as real[][]) takes the
    /// later migrations through the coordinator (half-precision pages,
    /// pooling), and still answers as one server migrated alike does.
    @Test func aDatabaseDistributedBeforeHalfPrecisionPagesMigratesAndAnswersAsOneServerDoes() async throws {
        let citus = try #require(TestCitus.settings)
        try await TestCitus.reset(citus)
        let single = try await TestPostgres.freshDatabase(migrated: false)
        let all = try Migration.load(from: RepositoryPaths.migrations)
        let schema5 = """
            INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
            VALUES ('\(SearchClientTests.collection)', 'name:test/model-128', 'test/model-128', 128, 'transformers'),
                   ('other', 'name:test/other-128', 'test/other-128', 128, 'transformers');
            INSERT INTO documents (collection_id, tenant, source_uri, content_hash, title, page_count, source_page_count, status, metadata)
            SELECT c.id, CASE WHEN d % 2 = 0 THEN 'acme' ELSE 'globex' END, 'file:///corpus/' || c.name || '/doc' || d || '.pdf',
                   sha256(convert_to(c.name || d, 'UTF8')), 'Document ' || d, 3, 3, 'ready',
                   jsonb_build_object('team', CASE WHEN d % 3 = 0 THEN 'legal' ELSE 'finance' END, 'n', d)
            FROM collections c, generate_series(1, 8) d;
            INSERT INTO pages (document_id, tenant, page_number, width, height, embedding, patch_grid)
            SELECT d.id, d.tenant, p, 100, 100,
                   (SELECT array_agg(r ORDER BY i) FROM (
                      SELECT i, array_agg(sin((d.metadata->>'n')::int * 31 + length(d.source_uri) * 3 + p * 17 + i * 7 + k * 13)::real ORDER BY k) AS r
                      FROM generate_series(0, 19) i, generate_series(0, 127) k GROUP BY i) s), 4
            FROM documents d, generate_series(1, 3) p;
            """
        for settings in [citus, single] {
            _ = try await Migrator(migrations: Array(all.prefix(5)), logger: logger).migrate(settings)
            try await Database.withConnection(settings, logger: logger) { c in
                for statement in SQLScript.statements(schema5) { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            }
        }
        let outcome = try await Database.withConnection(citus, logger: logger) { c in
            try await Distribution.distribute(shardCount: 4, on: c, logger: logger)
        }
        #expect(outcome.pages == 48)
        for settings in [citus, single] {
            let report = try await TestPostgres.migrator().migrate(settings)
            #expect(report.currentVersion == all.last?.version)
        }
        #expect(try await count(citus, "SELECT count(*)::int FROM pages WHERE pool_factor = 1 AND binary_quantize(embedding) = binary_quantize(embedding::real[])") == 48)
        let reference = try await answers(single)
        #expect(reference.prefix(2).allSatisfy { !$0.isEmpty })
        expectSame(try await answers(citus), reference)
    }

    /// An index built through the coordinator lives in the shards (the
    /// coordinator's own table is an empty shell): searches use it, and with
    /// every list probed and every page a candidate they answer exactly.
    @Test func theCandidateIndexOfADistributedDatabaseIsUsed() async throws {
        let citus = try #require(TestCitus.settings)
        try await TestCitus.reset(citus)
        _ = try await TestPostgres.migrator().migrate(citus)
        try await load(citus)
        _ = try await Database.withConnection(citus, logger: logger) { c in
            try await Distribution.distribute(shardCount: 4, on: c, logger: logger)
        }
        var generator = SearchClientTests.Generator(state: 2024)
        let query = generator.matrix(6)
        func plan() async throws -> String {
            try await SearchClient.with(database: citus, model: nil, logger: logger) { client in
                try await client.explain(embedding: query, in: SearchClientTests.collection)
            }
        }
        let before = try await plan()
        #expect(before.contains("maxsim_hamming") && !before.contains("<#>"))
        let status = try await Database.withConnection(citus, logger: logger) { c in
            try await CandidateIndex.build(lists: 4, on: c, logger: logger)
        }
        // The coordinator's own index is an empty shell: the status is the shards'.
        let holding = try await Database.withConnection(citus, logger: logger) { c in
            try await c.query("SELECT count(*) FROM run_command_on_shards('pages', 'SELECT count(*) FROM %s') WHERE result::int > 0",
                              logger: logger).collect().first!.decode(Int.self)
        }
        #expect(status.valid && status.lists == 4 && status.bytes > 0)
        #expect(status.shards?.count == 4 && status.shards?.withoutCentroids == 4 - holding)
        let after = try await plan()
        #expect(after.contains("<#>") && !after.contains("maxsim_hamming"))
        let (hits, exact) = try await SearchClient.with(database: citus, model: nil, logger: logger) { client in
            (try await client.search(embedding: query, in: SearchClientTests.collection, limit: 10, candidates: 100, probes: 4),
             try await client.exactSearch(embedding: query, in: SearchClientTests.collection, limit: 10))
        }
        #expect(hits.count == 10 && hits.map(\.pageID) == exact.map(\.pageID) && hits.map(\.score) == exact.map(\.score))
    }

    /// The binaries as a user runs them against the coordinator, and a
    /// tenant role limited by row-level security on the workers.
    @Test func ingestAndSearchThroughTheCoordinator() async throws {
        let citus = try #require(TestCitus.settings)
        try await TestCitus.reset(citus)
        let single = try await TestPostgres.freshDatabase()
        let colpali = RepositoryPaths.executable("colpali")
        let ingest = RepositoryPaths.executable("colpali-ingest")
        func environment(_ settings: ConnectionSettings) -> [String: String] {
            Fixtures.commandEnvironment(settings)
        }
        let distributed = try await ChildProcess.run(colpali, ["distribute", "--shard-count", "4"], environment: environment(citus))
        #expect(distributed.status == 0 && distributed.output.contains("distributed documents and pages in 4 shards"),
                "\(distributed.output) \(distributed.error)")
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        var results: [String] = []
        for settings in [citus, single] {
            for arguments in [["--tenant", "acme", sample], ["--tenant", "globex", Fixtures.image("doc0.png").path],
                              ["--pages", "1-2", "--collection", "reports", sample], ["--pages", "3", "--collection", "reports", sample]] {
                let added = try await ChildProcess.run(ingest, ["add", "--dpi", "60"] + arguments, environment: environment(settings))
                #expect(added.status == 0, "\(added.error)")
            }
            var answers = ""
            for arguments in [["search", "revenue by quarter", "--limit", "10"], ["search", "revenue", "--tenant", "acme"],
                              ["search", "revenue", "--collection", "reports", "--exact"]] {
                let searched = try await ChildProcess.run(colpali, arguments + ["--json"], environment: environment(settings))
                #expect(searched.status == 0, "\(searched.error)")
                let hits = try #require(try JSONSerialization.jsonObject(with: Data(searched.output.utf8)) as? [[String: Any]])
                answers += hits.map { "\($0["source_uri"] ?? "") \($0["page"] ?? "") \($0["score"] ?? "")" }.joined(separator: "\n") + "\n--\n"
            }
            results.append(answers)
        }
        #expect(results[0] == results[1])
        #expect(results[0].components(separatedBy: "\n--\n")[2].split(separator: "\n").count == 3)
        let again = try await ChildProcess.run(colpali, ["distribute"], environment: environment(citus))
        #expect(again.status == 0 && again.output.contains("already distributed"), "\(again.output)")

        // A search login in colpali_tenant sees its tenant's rows only, on every worker.
        try await Database.withConnection(citus, logger: logger) { c in
            let script = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("sql/roles.sql"), encoding: .utf8)
            for statement in SQLScript.statements(script) { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
        let login = "citus_tenant_" + UUID().uuidString.prefix(8).lowercased()
        try await Database.withConnection(citus, logger: logger) { c in
            try await c.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(login) LOGIN IN ROLE colpali_reader, colpali_tenant"), logger: logger)
        }
        // Hand-written SQL without the tenant condition: still only that tenant.
        var raw = citus
        raw.username = login
        let visible = try await Database.withConnection(raw, logger: logger) { c in
            try await c.transaction(logger: logger) { t in
                try await t.query("SET LOCAL colpali.tenant = 'acme'", logger: logger)
                return try await t.query("SELECT count(*)::int FROM pages", logger: logger).collect().first!.decode(Int.self)
            }
        }
        #expect(visible == 4)
        // The client does not depend on the database's setting: it sets it itself.
        func propagation(_ value: String) async throws {
            try await Database.withConnection(citus, logger: logger) { c in
                try await c.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(citus.database) \(value)"), logger: logger)
            }
        }
        try await propagation("RESET citus.propagate_set_commands")
        var restricted = SearchClient.Configuration(database: citus)
        restricted.database.username = login
        restricted.tenant = "globex"
        var generator = SearchClientTests.Generator(state: 5)
        let query = generator.matrix(4)
        let hits = try await SearchClient.with(restricted, model: nil, logger: logger) { client in
            try await client.exactSearch(embedding: query, in: "default", limit: 100)
        }
        #expect(hits.count == 1 && hits.allSatisfy { $0.sourceURI.hasSuffix("doc0.png") })
        try await propagation("SET citus.propagate_set_commands = 'local'")
    }
}
