import ColPaliCore
import ColPaliSearch
import ColPaliStorage
import Crypto
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// Searches through the colpali_ivf candidate index: used once built, exact
/// scores, complete under filters, managed by CandidateIndex.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct CandidateIndexTests {
    let logger = TestPostgres.logger
    let helpers = SearchClientTests()
    static let collection = SearchClientTests.collection

    /// 300 random pages, then (after `between`: an index built, say) a page
    /// made of the query's rows, slightly perturbed, among filler rows: the answer.
    func corpusWithAnswer(_ settings: ConnectionSettings, query: MultiVector,
                          between: () async throws -> Void = {}) async throws {
        _ = try await helpers.corpus(settings, documents: 60, pagesEach: 5)
        try await between()
        var noise = SeededRandom(78)
        var filler = SearchClientTests.Generator(state: 79)
        let answer = MultiVector(rows: 20, dim: 128, values: query.values.map { $0 + 0.05 * noise.float() } + filler.matrix(12).values)
        let collection = try await helpers.makeCollection(settings, model: CollectionModel(
            identity: "name:test/model-128", name: "test/model-128", embeddingDimension: 128, promptFormat: .transformers))
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(key: DocumentKey(collectionID: collection.id, contentHash: Data(repeating: 7, count: 32)),
                            sourceURI: "file:///answer.pdf", title: "Answer", sourcePageCount: 1),
                pages: [NewPage(pageNumber: 1, width: 100, height: 100, embedding: answer, patchGrid: 4)], replace: false, on: c)
        }
    }

    func build(_ settings: ConnectionSettings, lists: Int? = nil) async throws -> CandidateIndex.Status {
        try await Database.withConnection(settings, logger: logger) { c in
            try await CandidateIndex.build(lists: lists, on: c, logger: logger)
        }
    }

    @Test func anIndexFindsTheAnswerAndItsScoresAreExact() async throws {
        let settings = try await TestPostgres.freshDatabase()
        var rng = SearchClientTests.Generator(state: 77)
        let query = rng.matrix(8)
        _ = try await helpers.corpus(settings, documents: 0, pagesEach: 0)
        let before = try await helpers.withClient(settings) { try await $0.explain(embedding: query, in: Self.collection) }
        #expect(before.contains("maxsim_hamming") && !before.contains("<#>"))
        // The answer page arrives after the build: found through an insert into the index.
        var status: CandidateIndex.Status?
        try await corpusWithAnswer(settings, query: query) { status = try await self.build(settings, lists: 64) }
        #expect(status?.lists == 64 && status?.valid == true && (status?.bytes ?? 0) > 0 && status?.name == CandidateIndex.name)
        // The statistics autovacuum would have gathered by now: the planner picks the index.
        try await Database.withConnection(settings, logger: logger) { c in _ = try await c.query("ANALYZE", logger: logger) }
        let (explained, hits, exact) = try await helpers.withClient(settings) { client in
            (try await client.explain(embedding: query, in: Self.collection, probes: 2),
             try await client.search(embedding: query, in: Self.collection, limit: 5, candidates: 20),
             try await client.exactSearch(embedding: query, in: Self.collection, limit: 1))
        }
        #expect(explained.contains("ORDER BY p.embedding <#> $1") && !explained.contains("maxsim_hamming"))
        #expect(explained.hasPrefix("SET LOCAL colpali.ivf_probes = 2;"))
        #expect(hits.count == 5)
        #expect(hits.first?.sourceURI == "file:///answer.pdf")
        #expect(hits.first?.score == exact.first?.score)
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        // Every score is the stored page's exact MaxSim, to the bit.
        let stored = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT id, maxsim(\(query), embedding) FROM pages WHERE id = ANY(\(hits.map(\.pageID)))",
                              logger: logger).collect().map { try $0.decode((Int, Float).self) }
        }
        let byID = Dictionary(uniqueKeysWithValues: stored)
        #expect(hits.allSatisfy { byID[$0.pageID] == $0.score })
        // The plan of the statement a search runs really scans the index.
        let plan = try await Database.withConnection(settings, logger: logger) { c in
            let collection = try #require(try await CollectionStore(logger: logger).find(Self.collection, on: c))
            let statement = try SearchQuery.compose(query: query, codes: Data(count: 8 * 16), collection: collection, limit: 5,
                                                    candidates: 20, stage: .index, filter: SearchFilter(), includeImages: false)
            return try await c.query(PostgresQuery(unsafeSQL: "EXPLAIN " + statement.sql, binds: statement.bindings), logger: logger)
                .collect().map { try $0.decode(String.self) }.joined(separator: "\n")
        }
        #expect(plan.contains("Index Scan using \(CandidateIndex.name)"))
    }

    @Test func aSelectiveFilterStillFillsTheLimit() async throws {
        let settings = try await TestPostgres.freshDatabase()
        var rng = SearchClientTests.Generator(state: 12)
        let query = rng.matrix(8)
        try await corpusWithAnswer(settings, query: query)
        _ = try await build(settings, lists: 64)
        let documentID = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT id FROM documents WHERE title = 'Document 33'", logger: logger).collect().first!.decode(Int.self)
        }
        let (one, finance, exactFinance) = try await helpers.withClient(settings) { client in
            (try await client.search(embedding: query, in: Self.collection, limit: 10, candidates: 10, probes: 1,
                                     filter: SearchFilter(documentIDs: [documentID])),
             try await client.search(embedding: query, in: Self.collection, limit: 10, candidates: 10, probes: 1,
                                     filter: SearchFilter(metadataContains: ["team": .string("finance")])),
             try await client.exactSearch(embedding: query, in: Self.collection, limit: 10,
                                          filter: SearchFilter(metadataContains: ["team": .string("finance")])))
        }
        // One document of five pages: all five, though one probe per token reads a few lists.
        #expect(one.count == 5 && Set(one.map(\.documentID)) == [documentID])
        #expect(Set(one.map(\.pageNumber)) == Set(1...5))
        #expect(finance.count == 10 && finance.allSatisfy { $0.metadata["team"] == .string("finance") })
        #expect(exactFinance.count == 10)
        // One document forced through the index with a one-token question and
        // one probe: the first round reads one list of 64, later rounds find the rest.
        let single = MultiVector(rows: 1, dim: 128, values: Array(query.values.prefix(128)))
        let forced = try await Database.withConnection(settings, logger: logger) { c in
            for setting in ["enable_seqscan", "enable_bitmapscan", "enable_sort"] {
                _ = try await c.query(PostgresQuery(unsafeSQL: "SET \(setting) = off"), logger: logger)
            }
            _ = try await c.query("SET colpali.ivf_probes = 1", logger: logger)
            let plan = try await c.query(
                "EXPLAIN SELECT id FROM pages WHERE document_id = \(documentID) ORDER BY embedding <#> \(single) LIMIT 10",
                logger: logger).collect().map { try $0.decode(String.self) }.joined()
            #expect(plan.contains("Index Scan using \(CandidateIndex.name)"))
            return try await c.query(
                "SELECT id FROM pages WHERE document_id = \(documentID) ORDER BY embedding <#> \(single) LIMIT 10",
                logger: logger).collect().count
        }
        #expect(forced == 5)
    }

    @Test func probesNeedABuiltIndexAndAnIndexOverNoPagesIsNotUsed() async throws {
        let settings = try await TestPostgres.freshDatabase()
        var rng = SearchClientTests.Generator(state: 3)
        let query = rng.matrix(4)
        // Built before any page: no centroids, searches keep the prefilter.
        let empty = try await build(settings)
        #expect(empty.lists == 0 && empty.valid)
        _ = try await helpers.corpus(settings, documents: 4, pagesEach: 5)
        try await helpers.withClient(settings) { client throws in
            await #expect(throws: SearchError.noCandidateIndex) {
                try await client.search(embedding: query, in: Self.collection, probes: 4)
            }
            await #expect(throws: SearchError.outOfRange(name: "probes", value: 0, allowed: 1...SearchClient.maximumProbes)) {
                try await client.search(embedding: query, in: Self.collection, probes: 0)
            }
            let hits = try await client.search(embedding: query, in: Self.collection, limit: 3)
            let explained = try await client.explain(embedding: query, in: Self.collection)
            #expect(hits.count == 3)
            #expect(explained.contains("maxsim_hamming"))
        }
        // Rebuilt over the pages: used; dropped: the prefilter again.
        let built = try await build(settings, lists: 8)
        #expect(built.lists == 8)
        #expect(try await helpers.withClient(settings) { try await $0.explain(embedding: query, in: Self.collection) }.contains("<#>"))
        let rebuilt = try await build(settings)
        #expect(rebuilt.lists == 8, "a rebuild keeps the lists it had")
        await #expect(throws: StorageError.self) { try await self.build(settings, lists: 0) }
        let dropped = try await Database.withConnection(settings, logger: logger) { c in
            (try await CandidateIndex.drop(on: c, logger: logger), try await CandidateIndex.status(on: c, logger: logger))
        }
        #expect(dropped.0 && dropped.1 == nil)
        #expect(try await helpers.withClient(settings) { try await $0.explain(embedding: query, in: Self.collection) }.contains("maxsim_hamming"))
    }

    /// Four writers at once into an indexed table whose lists are few and
    /// fill up (new tail pages under contention), a delete and a VACUUM:
    /// afterwards the index returns every page exactly once.
    @Test func concurrentWritersLeaveTheIndexComplete() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await helpers.corpus(settings, documents: 4, pagesEach: 5)
        _ = try await build(settings, lists: 2)
        let collection = try await helpers.makeCollection(settings, model: CollectionModel(
            identity: "name:test/model-128", name: "test/model-128", embeddingDimension: 128, promptFormat: .transformers))
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var rng = SearchClientTests.Generator(state: UInt64(100 + writer))
                    try await Database.withConnection(settings, logger: logger) { c in
                        for d in 0..<12 {
                            let pages = (0..<5).map { NewPage(pageNumber: $0 + 1, width: 10, height: 10, embedding: rng.matrix(20), patchGrid: 4) }
                            _ = try await DocumentStore(logger: logger).store(
                                NewDocument(key: DocumentKey(collectionID: collection.id,
                                                             contentHash: Data(SHA256.hash(data: Data("w\(writer)-\(d)".utf8)))),
                                            sourceURI: "file:///w\(writer)/\(d).pdf", title: nil, sourcePageCount: 5),
                                pages: pages, replace: false, on: c)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("DELETE FROM documents WHERE source_uri LIKE 'file:///w1/%'", logger: logger)
            _ = try await c.query("VACUUM pages", logger: logger)
            _ = try await c.query("SET enable_seqscan = off", logger: logger)
            _ = try await c.query("SET enable_sort = off", logger: logger)
            var rng = SearchClientTests.Generator(state: 9)
            let query = rng.matrix(4)
            let plan = try await c.query("EXPLAIN SELECT id FROM pages ORDER BY embedding <#> \(query)", logger: logger)
                .collect().map { try $0.decode(String.self) }.joined()
            #expect(plan.contains("Index Scan using \(CandidateIndex.name)"))
            return try await c.query("""
                SELECT count(*), count(DISTINCT id), (SELECT count(*) FROM pages)
                FROM (SELECT id FROM pages ORDER BY embedding <#> \(query)) every_page
                """, logger: logger).collect().first!.decode((Int, Int, Int).self)
        }
        #expect(counts.2 == 20 + 3 * 12 * 5)
        #expect(counts.0 == counts.2 && counts.1 == counts.2)
    }

    /// With candidates covering the table, the index path is the exact search:
    /// same pages, same order, same scores (the rerank is not the estimate).
    @Test func indexedSearchEqualsExactWhenCandidatesCoverTheTable() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await helpers.corpus(settings, documents: 6, pagesEach: 5)
        _ = try await build(settings, lists: 16)
        try await Database.withConnection(settings, logger: logger) { c in _ = try await c.query("ANALYZE", logger: logger) }
        var rng = SearchClientTests.Generator(state: 41)
        for _ in 0..<5 {
            let query = rng.matrix(7)
            let (indexed, exact, explained) = try await helpers.withClient(settings) { client in
                (try await client.search(embedding: query, in: Self.collection, limit: 10, candidates: 30),
                 try await client.exactSearch(embedding: query, in: Self.collection, limit: 10),
                 try await client.explain(embedding: query, in: Self.collection, candidates: 30))
            }
            #expect(explained.contains("<#>"))
            #expect(indexed.map(\.pageID) == exact.map(\.pageID))
            #expect(indexed.map(\.score) == exact.map(\.score))
        }
    }
}
