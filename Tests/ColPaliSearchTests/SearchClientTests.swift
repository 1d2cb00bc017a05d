import ColPaliCore
import ColPaliKernels
import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Crypto
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The client on a real Postgres: SQL composition, filters, maps, errors.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct SearchClientTests {
    let logger = TestPostgres.logger
    static let collection = "test"
    static let model = CollectionModel(identity: "name:test/model", name: "test/model", embeddingDimension: 128,
                                       promptFormat: .transformers)

    /// The collection a corpus goes to, created for the given model.
    func makeCollection(_ settings: ConnectionSettings, name: String = collection, model: CollectionModel = model) async throws
        -> Collection {
        try await Database.withConnection(settings, logger: logger) { c in
            try await CollectionStore(logger: logger).resolve(name, for: model, create: true, on: c)
        }
    }

    /// Random unit-length rows, as ColPali's are.
    struct Generator {
        var random: SeededRandom
        init(state: UInt64) { random = SeededRandom(state) }
        mutating func matrix(_ rows: Int, _ dim: Int = 128) -> MultiVector {
            MultiVector(rows: rows, dim: dim, values: random.unitRows(rows, dim))
        }
    }

    /// `documents` documents of `pagesEach` random pages (20 rows: 16 patches + 4 text rows).
    func corpus(_ settings: ConnectionSettings, documents: Int, pagesEach: Int, collection: String = collection, dim: Int = 128,
                seed: UInt64 = 1, tenant: String = "") async throws -> [MultiVector] {
        var rng = Generator(state: seed)
        var all: [MultiVector] = []
        let store = DocumentStore(logger: logger)
        let target = try await makeCollection(settings, name: collection,
                                              model: CollectionModel(identity: "name:test/model-\(dim)", name: "test/model-\(dim)",
                                                                     embeddingDimension: dim, promptFormat: .transformers))
        try await Database.withConnection(settings, logger: logger) { c in
            for d in 0..<documents {
                let pages = (0..<pagesEach).map { _ in rng.matrix(20, dim) }
                all += pages
                let team = d % 2 == 0 ? "finance" : "legal"
                let document = NewDocument(
                    key: DocumentKey(collectionID: target.id, tenant: tenant,
                                     contentHash: Data(SHA256.hash(data: Data("\(seed)-\(d)-\(collection)".utf8)))),
                    sourceURI: "file:///corpus/\(team)/doc\(d).pdf",
                    title: "Document \(d)", metadata: ["team": .string(team), "n": .number(Double(d))], sourcePageCount: pagesEach)
                _ = try await store.store(document, pages: pages.enumerated().map {
                    NewPage(pageNumber: $0.offset + 1, width: 100, height: 100, embedding: $0.element, patchGrid: 4)
                }, replace: false, on: c)
            }
        }
        return all
    }

    func withClient<T: Sendable>(_ settings: ConnectionSettings, model: ColPali? = nil,
                                 _ body: @Sendable (SearchClient) async throws -> T) async throws -> T {
        try await SearchClient.with(database: settings, model: model, logger: logger, body)
    }

    @Test func twoStageEqualsExactWhenCandidatesCoverTheTable() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 6, pagesEach: 5)
        var rng = Generator(state: 99)
        for _ in 0..<5 {
            let query = rng.matrix(7)
            let (twoStage, exact) = try await withClient(settings) { client in
                (try await client.search(embedding: query, in: Self.collection, limit: 10, candidates: 30),
                 try await client.exactSearch(embedding: query, in: Self.collection, limit: 10))
            }
            #expect(twoStage.count == 10 && exact.count == 10)
            #expect(twoStage.map(\.pageID) == exact.map(\.pageID))
            #expect(zip(twoStage, exact).allSatisfy { $0.score == $1.score })
            #expect(twoStage.map(\.rank) == Array(1...10))
            #expect(zip(twoStage, twoStage.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
    }

    @Test func scoresAreTheExactMaxSimOfTheStoredPages() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let pages = try await corpus(settings, documents: 2, pagesEach: 3)
        var seeded = Generator(state: 5)
        let query = seeded.matrix(4)
        let hits = try await withClient(settings) { try await $0.exactSearch(embedding: query, in: Self.collection, limit: 6) }
        // Page n of document d is pages[3 * (d's index) + n - 1]; documents are stored in order.
        #expect(hits.count == 6)
        for hit in hits {
            let page = pages[3 * (hit.documentID - hits.map(\.documentID).min()!) + hit.pageNumber - 1]
            let expected = ReferenceScores.maxSim(query.values, rows: 4, ReferenceScores.asStored(page.values), rows: page.rows, dim: 128)
            #expect(abs(Double(hit.score) - expected) <= 1e-5 * max(1, abs(expected)), "page \(hit.pageID)")
        }
        let expectedOrder = pages.map { ReferenceScores.maxSim(query.values, rows: 4, ReferenceScores.asStored($0.values), rows: $0.rows, dim: 128) }
            .sorted(by: >)
        #expect(zip(hits.map { Double($0.score) }, expectedOrder).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
    }

    /// The prefilter must cut (300 pages, 50 candidates) and keep the
    /// answer: page A is the question itself, slightly perturbed (some signs
    /// flip); page B is the question's exact signs at half scale. By MaxSim A
    /// wins clearly, by Hamming B does: ranks 1 and 2 prove both stages ran,
    /// in order, with the exact score last.
    @Test func prefilterKeepsTheAnswerOnACorpusFarLargerThanTheCandidates() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 60, pagesEach: 5)
        var rng = Generator(state: 77)
        let query = rng.matrix(8)
        var noise = SeededRandom(78)
        let filler = rng.matrix(12)
        let a = MultiVector(rows: 20, dim: 128, values: query.values.map { $0 + 0.05 * noise.float() } + filler.values)
        let b = MultiVector(rows: 20, dim: 128, values: query.values.map { $0 * 0.5 } + filler.values)
        let collection = try await makeCollection(settings, model: CollectionModel(
            identity: "name:test/model-128", name: "test/model-128", embeddingDimension: 128, promptFormat: .transformers))
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(key: DocumentKey(collectionID: collection.id, contentHash: Data(repeating: 1, count: 32)),
                            sourceURI: "file:///answers.pdf", title: "Answers", sourcePageCount: 2),
                pages: [a, b].enumerated().map { NewPage(pageNumber: $0.offset + 1, width: 100, height: 100, embedding: $0.element, patchGrid: 4) },
                replace: false, on: c)
        }
        let hits = try await withClient(settings) { client in
            try await client.search(embedding: query, in: Self.collection, limit: 5, candidates: 50)
        }
        #expect(hits.count == 5)
        #expect(hits.prefix(2).map(\.sourceURI) == ["file:///answers.pdf", "file:///answers.pdf"])
        #expect(hits.prefix(2).map(\.pageNumber) == [1, 2])
        let expectedA = ReferenceScores.maxSim(query.values, rows: 8, a.values, rows: 20, dim: 128)
        let expectedB = ReferenceScores.maxSim(query.values, rows: 8, b.values, rows: 20, dim: 128)
        if hits.count >= 2 {
            #expect(abs(Double(hits[0].score) - expectedA) <= 1e-4 * expectedA)
            #expect(abs(Double(hits[1].score) - expectedB) <= 1e-4 * expectedB)
        }
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        // By Hamming alone B would come first: the exact rerank put A there.
        let hamming = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("""
                SELECT p.page_number FROM pages p JOIN documents d ON d.id = p.document_id WHERE d.source_uri = 'file:///answers.pdf'
                ORDER BY maxsim_hamming(binary_quantize(\(query)), p.embedding, 128) DESC
                """, logger: logger).collect().map { try $0.decode(Int.self) }
        }
        #expect(hamming == [2, 1])
    }

    @Test func filtersRestrictResults() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 6, pagesEach: 2)
        var seeded = Generator(state: 7)
        let query = seeded.matrix(5)
        try await withClient(settings) { client in
            let finance = try await client.search(embedding: query, in: Self.collection, limit: 20,
                                                  filter: SearchFilter(metadataContains: ["team": .string("finance")]))
            #expect(finance.count == 6)
            #expect(finance.allSatisfy { $0.sourceURI.contains("/finance/") && $0.metadata["team"] == .string("finance") })
            let legal = try await client.search(embedding: query, in: Self.collection, limit: 20,
                                                filter: SearchFilter(sourcePrefix: "file:///corpus/legal/"))
            #expect(legal.count == 6 && legal.allSatisfy { $0.sourceURI.contains("/legal/") })
            let ids = Set(finance.prefix(2).map(\.documentID))
            let chosen = try await client.search(embedding: query, in: Self.collection, filter: SearchFilter(documentIDs: Array(ids)))
            #expect(Set(chosen.map(\.documentID)) == ids)
            let future = try await client.search(embedding: query, in: Self.collection,
                                                 filter: SearchFilter(createdAfter: Date().addingTimeInterval(3600)))
            #expect(future.isEmpty)
            let past = try await client.search(embedding: query, in: Self.collection, limit: 100,
                                               filter: SearchFilter(createdBefore: Date().addingTimeInterval(3600)))
            #expect(past.count == 12)
        }
    }

    @Test func hostileFilterValuesAreInert() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 2, pagesEach: 2)
        var seeded = Generator(state: 8)
        let query = seeded.matrix(3)
        try await withClient(settings) { client in
            for hostile in ["'; DROP TABLE pages; --", "x' OR '1'='1", "\"; DELETE FROM documents; --", "%", "_"] {
                let byPrefix = try await client.search(embedding: query, in: Self.collection, filter: SearchFilter(sourcePrefix: hostile))
                #expect(byPrefix.isEmpty, "\(hostile)")
                let byMetadata = try await client.search(embedding: query, in: Self.collection,
                                                         filter: SearchFilter(metadataContains: ["team": .string(hostile)]))
                #expect(byMetadata.isEmpty)
                let byTenant = try await client.search(embedding: query, in: Self.collection, filter: SearchFilter(tenant: hostile))
                #expect(byTenant.isEmpty)
                let sql = try await client.explain(embedding: query, in: Self.collection, filter: SearchFilter(sourcePrefix: hostile))
                if hostile.count > 3 { #expect(!sql.components(separatedBy: "-- parameters:")[0].contains(hostile)) }
            }
            // The tables are all there, untouched.
            #expect(try await client.search(embedding: query, in: Self.collection, limit: 4).count == 4)
            // Hostile collection names never reach SQL.
            await #expect(throws: CollectionError.invalidName("x'; DROP TABLE pages; --")) {
                try await client.search(embedding: query, in: "x'; DROP TABLE pages; --")
            }
        }
    }

    /// Collections never mix, and a tenant sees its own documents only:
    /// filtered by the client, and for database roles in colpali_tenant
    /// enforced by row-level security even for SQL that forgets the filter.
    @Test func collectionsAndTenantsPartitionResults() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 2, pagesEach: 2, seed: 1, tenant: "acme")
        _ = try await corpus(settings, documents: 3, pagesEach: 2, seed: 2, tenant: "globex")
        _ = try await corpus(settings, documents: 4, pagesEach: 2, collection: "other", seed: 3)
        var seeded = Generator(state: 11)
        let query = seeded.matrix(4)
        let tenants = try await withClient(settings) { client in
            let all = try await client.exactSearch(embedding: query, in: Self.collection, limit: 100)
            let other = try await client.exactSearch(embedding: query, in: "other", limit: 100)
            #expect(all.count == 10 && other.count == 8)
            #expect(Set(all.map(\.documentID)).isDisjoint(with: other.map(\.documentID)))
            let acme = try await client.search(embedding: query, in: Self.collection, limit: 100, filter: SearchFilter(tenant: "acme"))
            #expect(acme.count == 4)
            let documents = try await client.documents(in: Self.collection)
            return Dictionary(grouping: documents, by: \.tenant).mapValues(\.count)
        }
        #expect(tenants == ["acme": 2, "globex": 3])
        var scoped = SearchClient.Configuration(database: settings)
        scoped.tenant = "globex"
        try await SearchClient.with(scoped, model: nil, logger: logger) { client in
            let hits = try await client.search(embedding: query, in: Self.collection, limit: 100)
            #expect(hits.count == 6)
            // A filter naming another tenant cannot widen the client's scope.
            await #expect(throws: SearchError.invalidFilter("tenant 'acme' is outside this client's tenant 'globex'")) {
                try await client.search(embedding: query, in: Self.collection, limit: 100, filter: SearchFilter(tenant: "acme"))
            }
            #expect(try await client.documents(in: Self.collection).allSatisfy { $0.tenant == "globex" })
        }

        // A login in colpali_tenant: row-level security does the scoping.
        try await Database.withConnection(settings, logger: logger) { c in
            let script = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("sql/roles.sql"), encoding: .utf8)
            for statement in SQLScript.statements(script) {
                try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        let login = "tenant_app_" + UUID().uuidString.prefix(8).lowercased()
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(login) LOGIN IN ROLE colpali_reader, colpali_tenant"),
                              logger: logger)
        }
        var restricted = settings
        restricted.username = login
        func visible(_ tenant: String?) async throws -> [Int] {
            try await Database.withConnection(restricted, logger: logger) { c in
                if let tenant { try await c.query("SELECT set_config('colpali.tenant', \(tenant), false)", logger: logger) }
                // No tenant condition: the policy adds it.
                let row = try await c.query("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM pages)", logger: logger)
                    .collect().first!
                let (documents, pages) = try row.decode((Int, Int).self)
                return [documents, pages]
            }
        }
        #expect(try await visible(nil) == [0, 0])
        #expect(try await visible("acme") == [2, 4])
        #expect(try await visible("globex") == [3, 6])
        var restrictedScope = SearchClient.Configuration(database: restricted)
        restrictedScope.tenant = "acme"
        try await SearchClient.with(restrictedScope, model: nil, logger: logger) { client in
            let hits = try await client.exactSearch(embedding: query, in: Self.collection, limit: 100)
            #expect(hits.count == 4)
        }
        // Tenants that look like SQL are only names.
        for hostile in ["x'; DROP TABLE pages; --", "acme\\'; RESET colpali.tenant; --"] {
            var odd = SearchClient.Configuration(database: restricted)
            odd.tenant = hostile
            try await SearchClient.with(odd, model: nil, logger: logger) { client in
                await #expect(throws: SearchError.noPages(collection: Self.collection)) {
                    try await client.exactSearch(embedding: query, in: Self.collection, limit: 100)
                }
            }
        }
        #expect(try await visible("acme") == [2, 4])
        // The same login with no tenant configured sees nothing, rather than everything.
        try await SearchClient.with(database: restricted, model: nil, logger: logger) { client in
            await #expect(throws: SearchError.self) { try await client.exactSearch(embedding: query, in: Self.collection, limit: 100) }
        }
    }

    /// One client, long-lived: a collection deleted and made again for
    /// another model is searched as it now is.
    @Test func aCollectionMadeAgainIsSeenAsItNowIs() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 1, pagesEach: 2, collection: "again", dim: 128)
        var seeded = Generator(state: 4)
        let (wide, narrow) = (seeded.matrix(3, 128), seeded.matrix(3, 64))
        let counts = try await withClient(settings) { client in
            let before = try await client.exactSearch(embedding: wide, in: "again", limit: 5).count
            let deleted = try await Database.withConnection(settings, logger: self.logger) { c in
                try await CollectionStore(logger: self.logger).delete("again", on: c)
            }
            #expect(deleted)
            _ = try await self.corpus(settings, documents: 1, pagesEach: 3, collection: "again", dim: 64, seed: 5)
            return (before, try await client.exactSearch(embedding: narrow, in: "again", limit: 5).count)
        }
        #expect(counts.0 == 2 && counts.1 == 3)
    }

    /// A pooled page's rows are cluster means, not grid patches: asking for
    /// its map is a clear error, and it is still searched.
    @Test func aPooledPageHasNoSimilarityMapButIsSearched() async throws {
        let settings = try await TestPostgres.freshDatabase()
        var seeded = Generator(state: 21)
        let page = seeded.matrix(30)
        let pooled = try TokenPooling.hierarchical(page, factor: 3).vectors
        let target = try await makeCollection(settings, name: Self.collection,
                                              model: CollectionModel(identity: "name:test/model-128", name: "test/model-128",
                                                                     embeddingDimension: 128, promptFormat: .transformers))
        var stored = NewPage(pageNumber: 1, width: 100, height: 100, embedding: pooled, patchGrid: 0)
        stored.poolFactor = 3
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(key: DocumentKey(collectionID: target.id, tenant: "", contentHash: Data(repeating: 7, count: 32)),
                            sourceURI: "file:///pooled.pdf", title: "Pooled", metadata: [:], sourcePageCount: 1),
                pages: [stored], replace: false, on: c)
        }
        let query = seeded.matrix(3)
        let hits = try await withClient(settings) { try await $0.exactSearch(embedding: query, in: Self.collection, limit: 1) }
        #expect(hits.count == 1)
        let pageID = try #require(hits.first).pageID
        await #expect(throws: SearchError.pooledPage(page: pageID, factor: 3)) {
            try await self.withClient(settings) {
                try await $0.similarityMap(embedding: query, tokens: ["a", "b", "c"], pageID: pageID)
            }
        }
    }

    @Test func similarityMapEqualsTheStoredVectorsDirectly() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let pages = try await corpus(settings, documents: 1, pagesEach: 2)
        var seeded = Generator(state: 11)
        let query = seeded.matrix(6)
        let hits = try await withClient(settings) { try await $0.exactSearch(embedding: query, in: Self.collection, limit: 2) }
        let pageID = hits[0].pageID
        let tokens = (0..<6).map { "t\($0)" }
        let map = try await withClient(settings) { try await $0.similarityMap(embedding: query, tokens: tokens, pageID: pageID) }
        #expect(map.grid == 4 && map.scores.count == 6 && map.scores[0].count == 16)
        // The page's own vectors, fetched independently, dotted with the query.
        let stored = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT similarity_matrix(\(query), (embedding::real[])[1:16][1:128]) FROM pages WHERE id = \(pageID)",
                              logger: logger).collect().first!.decode(MultiVector.self).values
        }
        let flat = map.scores.flatMap { $0 }
        #expect(flat.count == stored.count)
        #expect(zip(flat, stored).allSatisfy { abs($0 - $1) <= 1e-5 })
        // And against the vectors as generated and stored (half precision),
        // in double precision: the first 16 rows (the patches) of the page
        // the hit names.
        #expect(pages.count == 2)
        let page = pages[hits[0].pageNumber - 1]
        let reference = ReferenceScores.dots(query.values, rows: 6, ReferenceScores.asStored(Array(page.values.prefix(16 * 128))), rows: 16, dim: 128)
        #expect(flat.count == reference.count)
        #expect(zip(flat, reference).allSatisfy { abs(Double($0) - $1) <= 1e-5 })
        let normalized = map.normalized(token: 2)
        #expect(normalized.min() == 0 && abs(normalized.max()! - 1) < 1e-6)
        let combined = map.combined(tokens: [0, 1])
        let best: [Float] = (0..<16).map { max(map.scores[0][$0], map.scores[1][$0]) }
        let lowest: Float = best.min()!
        let range: Float = best.max()! - lowest + 1e-10
        for (value, raw) in zip(combined, best) {
            let expected: Float = (raw - lowest) / range
            #expect(abs(value - expected) < 1e-6)
        }
    }

    @Test func clearErrors() async throws {
        let empty = try await TestPostgres.freshDatabase()
        var seeded = Generator(state: 3)
        let query = seeded.matrix(2)
        _ = try await makeCollection(empty, model: CollectionModel(identity: "name:test/model-128", name: "test/model-128",
                                                                   embeddingDimension: 128, promptFormat: .transformers))
        try await withClient(empty) { client in
            do {
                _ = try await client.search(embedding: query, in: Self.collection)
                Issue.record("no error on an empty collection")
            } catch let error as SearchError {
                #expect(error.description == "collection 'test' has no searchable pages yet")
            }
            await #expect(throws: SearchError.self) { try await client.search("   ") }
            await #expect(throws: SearchError.self) { try await client.search("anything") }  // no model
        }
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 1, pagesEach: 1)
        try await withClient(settings) { client in
            await #expect(throws: CollectionError.notFound("other")) { try await client.search(embedding: query, in: "other") }
            do {
                var other = Generator(state: 4)
                _ = try await client.search(embedding: other.matrix(2, 64), in: Self.collection)
                Issue.record("dimension mismatch not reported")
            } catch {
                #expect("\(error)".contains("the query has 64-dimensional vectors but the collection's pages have 128"))
            }
            await #expect(throws: SearchError.self) { try await client.similarityMap(embedding: query, tokens: ["a", "b"], pageID: 999_999) }
            await #expect(throws: SearchError.self) { try await client.page(id: 999_999) }
            await #expect(throws: SearchError.self) { try await client.page(documentID: 1, number: 99) }
            let page = try await client.page(documentID: 1, number: 1)
            #expect(page.pageNumber == 1 && page.image == nil && !page.hasStoredImage && page.width == 100)
        }
        // A stored rendering: read when asked for, otherwise only known to be there.
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("UPDATE pages SET image = '\\x89504e47'::bytea, image_type = 'image/png'", logger: logger)
        }
        try await withClient(settings) { client in
            let id = try await client.page(documentID: 1, number: 1).pageID
            let (full, light) = (try await client.page(id: id), try await client.page(id: id, includingImage: false))
            #expect(full.image == PageImage(data: Data([0x89, 0x50, 0x4e, 0x47]), type: .png) && full.hasStoredImage)
            #expect(light.image == nil && light.hasStoredImage && light.pageID == id)
        }
        // A database that is down.
        let down = try ConnectionSettings(url: "postgresql://nobody@127.0.0.1:1/none?sslmode=disable")
        await #expect(throws: StorageError.self) { try await SearchClient.with(database: down, model: nil) { _ in 0 } }
    }

    /// The server ends the search's session mid-query (as a restart or an
    /// administrator does): one clear error, and the pool's next search works.
    @Test func aSessionKilledMidSearchIsAClearErrorAndTheNextSearchWorks() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 2, pagesEach: 2)
        var seeded = Generator(state: 21)
        let query = seeded.matrix(3)
        let failure: String? = try await withClient(settings) { client in
            let outcome = try await Database.withConnection(settings, logger: logger) { locker in
                try await locker.transaction(logger: logger) { t in
                    // Held until the search's session is gone: the search waits on it.
                    _ = try await t.query("LOCK TABLE pages IN ACCESS EXCLUSIVE MODE", logger: logger)
                    async let searched: String? = {
                        do {
                            _ = try await client.search(embedding: query, in: Self.collection, limit: 2)
                            return nil
                        } catch {
                            return DatabaseErrors.describe(error)
                        }
                    }()
                    let deadline = ContinuousClock.now + .seconds(30)
                    var killed = false
                    while !killed && ContinuousClock.now < deadline {
                        killed = try await Database.withConnection(settings, logger: logger) { c in
                            try await c.query("""
                                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH candidates%'
                                """, logger: logger).collect().first!.decode(Int.self) == 1
                        }
                        if !killed { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    #expect(killed, "the search never waited on the lock")
                    return await searched
                }
            }
            // The pool replaces the dead connection. (PSQLError's description
            // is generic: its details say which failure it was.)
            do {
                let next = try await client.search(embedding: query, in: Self.collection, limit: 2)
                #expect(next.count == 2)
            } catch {
                Issue.record("the search after the killed one failed: \(String(reflecting: error))")
            }
            return outcome
        }
        let message = try #require(failure)
        #expect(message.contains("terminating connection due to administrator command") && !message.contains("\n"), "\(message)")
    }

    /// The server ends the pool's idle sessions (a restart, an administrator,
    /// idle_session_timeout) and the client searches at once, before the pool
    /// may have seen the connections close: the searches still work.
    @Test func searchesRightAfterTheServerEndedThePoolsIdleSessionsWork() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 2, pagesEach: 2)
        var seeded = Generator(state: 22)
        let query = seeded.matrix(3)
        try await withClient(settings) { client in
            for round in 0..<5 {
                // Several searches at once, so that the pool holds more than one connection.
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<3 { group.addTask { try await client.search(embedding: query, in: Self.collection, limit: 2).count } }
                    for try await count in group { #expect(count == 2) }
                }
                let ended = try await Database.withConnection(settings, logger: logger) { c in
                    // The timeout makes each call wait until that backend has exited.
                    try await c.query("""
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                        """, logger: logger).collect().first!.decode(Int.self)
                }
                #expect(ended >= 1, "round \(round): no pooled session to end")
                do {
                    let hits = try await client.search(embedding: query, in: Self.collection, limit: 2)
                    #expect(hits.count == 2)
                } catch {
                    Issue.record("round \(round): \(String(reflecting: error))")
                }
            }
        }
    }

    @Test func documentsDeletionAndEnqueue() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 3, pagesEach: 2)
        try await withClient(settings) { client in
            let documents = try await client.documents()
            #expect(documents.count == 3 && documents.allSatisfy { $0.status == .ready && $0.pageCount == 2 && $0.collection == "test" })
            #expect(try await client.deleteDocument(id: documents[0].id))
            #expect(try await !client.deleteDocument(id: documents[0].id))
            #expect(try await client.documents().count == 2)
            var options = JobOptions()
            options.force = true
            options.collection = "test"
            let job = try await client.enqueue(file: "/data/inbox/new.pdf", options: options)
            #expect(job > 0)
        }
        let pages = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT count(*) FROM pages", logger: logger).collect().first!.decode(Int.self)
        }
        #expect(pages == 4)
        let queued = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT options::text FROM ingest_jobs", logger: logger).collect().first!.decode(String.self)
        }
        #expect(queued == #"{"force": true, "collection": "test"}"#)
    }

    @Test func textSearchWithTheModel() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let model = try await ColPali.load(Fixtures.model("hf-fp32").path, precision: .fp32,
                                                locator: ModelLocator(environment: ["HF_HUB_OFFLINE": "1"]))
        // Two pages embedded by the model itself.
        let images = try ["doc0.png", "doc1.png"].map { try RGBImage.load(contentsOf: Fixtures.image($0)) }
        let vectors = try model.embedDocuments(images, format: .transformers)
        let collection = try await makeCollection(settings, name: "default", model: CollectionModel(
            identity: model.identity, name: model.identifier, embeddingDimension: 128, promptFormat: .transformers))
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(key: DocumentKey(collectionID: collection.id, contentHash: Data(repeating: 7, count: 32)),
                            sourceURI: "file:///docs.pdf", title: "Docs", sourcePageCount: 2),
                pages: vectors.enumerated().map { NewPage(pageNumber: $0.offset + 1, width: 56, height: 56,
                    embedding: MultiVector(rows: $0.element.rows, dim: 128, values: $0.element.values), patchGrid: 4) },
                replace: false, on: c)
        }
        let hits = try await withClient(settings, model: model) { try await $0.search("What is shown?", limit: 2) }
        #expect(hits.count == 2)
        // Same order and scores as the reference MaxSim of these two pages.
        let query = try model.embedQueries(["What is shown?"], format: .transformers)[0]
        let scores = vectors.map { ReferenceScores.maxSim(query.values, rows: query.rows, $0.values, rows: $0.rows, dim: 128) }
        #expect(hits.map(\.pageNumber) == (scores[0] >= scores[1] ? [1, 2] : [2, 1]))
        #expect(abs(Double(hits[0].score) - scores.max()!) < 1e-4)
        #expect(abs(Double(hits[1].score) - scores.min()!) < 1e-4)
        let map = try await withClient(settings, model: model) { try await $0.similarityMap(question: "What is shown?", pageID: hits[0].pageID) }
        #expect(map.tokens.count == query.rows && map.tokens.first == "<bos>")
    }
}
