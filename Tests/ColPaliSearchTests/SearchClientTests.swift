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
@Suite(.serialized) struct SearchClientTests {
    let logger = TestPostgres.logger
    static let model = "test/model"

    /// Random unit-length rows, as ColPali's are.
    struct Generator {
        var random: SeededRandom
        init(state: UInt64) { random = SeededRandom(state) }
        mutating func matrix(_ rows: Int, _ dim: Int = 128) -> MultiVector {
            MultiVector(rows: rows, dim: dim, values: random.unitRows(rows, dim))
        }
    }

    /// `documents` documents of `pagesEach` random pages (20 rows: 16 patches + 4 text rows).
    func corpus(_ settings: ConnectionSettings, documents: Int, pagesEach: Int, model: String = model, dim: Int = 128,
                seed: UInt64 = 1) async throws -> [MultiVector] {
        var rng = Generator(state: seed)
        var all: [MultiVector] = []
        let store = DocumentStore(logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            for d in 0..<documents {
                let pages = (0..<pagesEach).map { _ in rng.matrix(20, dim) }
                all += pages
                let document = NewDocument(
                    sourceURI: "file:///corpus/\(d % 2 == 0 ? "finance" : "legal")/doc\(d).pdf",
                    contentHash: Data(SHA256.hash(data: Data("\(seed)-\(d)-\(model)".utf8))),
                    title: "Document \(d)", metadataJSON: "{\"team\": \"\(d % 2 == 0 ? "finance" : "legal")\", \"n\": \(d)}",
                    model: model, promptFormat: "transformers", embeddingDim: dim)
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
                (try await client.search(embedding: query, model: Self.model, limit: 10, candidates: 30),
                 try await client.exactSearch(embedding: query, model: Self.model, limit: 10))
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
        let hits = try await withClient(settings) { try await $0.exactSearch(embedding: query, model: Self.model, limit: 6) }
        // Page n of document d is pages[3 * (d's index) + n - 1]; documents are stored in order.
        #expect(hits.count == 6)
        for hit in hits {
            let page = pages[3 * (hit.documentID - hits.map(\.documentID).min()!) + hit.pageNumber - 1]
            let expected = ReferenceScores.maxSim(query.values, rows: 4, page.values, rows: page.rows, dim: 128)
            #expect(abs(Double(hit.score) - expected) <= 1e-5 * max(1, abs(expected)), "page \(hit.pageID)")
        }
        let expectedOrder = pages.map { ReferenceScores.maxSim(query.values, rows: 4, $0.values, rows: $0.rows, dim: 128) }
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
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(sourceURI: "file:///answers.pdf", contentHash: Data(repeating: 1, count: 32), title: "Answers",
                            model: Self.model, promptFormat: "transformers", embeddingDim: 128),
                pages: [a, b].enumerated().map { NewPage(pageNumber: $0.offset + 1, width: 100, height: 100, embedding: $0.element, patchGrid: 4) },
                replace: false, on: c)
        }
        let hits = try await withClient(settings) { client in
            try await client.search(embedding: query, model: Self.model, limit: 5, candidates: 50)
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
                ORDER BY maxsim_hamming(binary_quantize(\(query)), p.embedding_codes, 128) DESC
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
            let finance = try await client.search(embedding: query, model: Self.model, limit: 20,
                                                  filter: SearchFilter(metadataContains: "{\"team\": \"finance\"}"))
            #expect(finance.count == 6)
            #expect(finance.allSatisfy { $0.sourceURI.contains("/finance/") && $0.metadataJSON.contains("finance") })
            let legal = try await client.search(embedding: query, model: Self.model, limit: 20,
                                                filter: SearchFilter(sourcePrefix: "file:///corpus/legal/"))
            #expect(legal.count == 6 && legal.allSatisfy { $0.sourceURI.contains("/legal/") })
            let ids = Set(finance.prefix(2).map(\.documentID))
            let chosen = try await client.search(embedding: query, model: Self.model, filter: SearchFilter(documentIDs: Array(ids)))
            #expect(Set(chosen.map(\.documentID)) == ids)
            let future = try await client.search(embedding: query, model: Self.model,
                                                 filter: SearchFilter(createdAfter: Date().addingTimeInterval(3600)))
            #expect(future.isEmpty)
            let past = try await client.search(embedding: query, model: Self.model, limit: 100,
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
                let byPrefix = try await client.search(embedding: query, model: Self.model, filter: SearchFilter(sourcePrefix: hostile))
                #expect(byPrefix.isEmpty, "\(hostile)")
                let json = String(decoding: try JSONSerialization.data(withJSONObject: ["team": hostile]), as: UTF8.self)
                let byMetadata = try await client.search(embedding: query, model: Self.model, filter: SearchFilter(metadataContains: json))
                #expect(byMetadata.isEmpty)
                let sql = try client.explain(embedding: query, model: Self.model, filter: SearchFilter(sourcePrefix: hostile))
                if hostile.count > 3 { #expect(!sql.components(separatedBy: "-- parameters:")[0].contains(hostile)) }
            }
            // The tables are all there, untouched.
            #expect(try await client.search(embedding: query, model: Self.model, limit: 4).count == 4)
            await #expect(throws: SearchError.self) {
                try await client.search(embedding: query, model: Self.model, filter: SearchFilter(metadataContains: "not json"))
            }
        }
    }

    @Test func similarityMapEqualsTheStoredVectorsDirectly() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let pages = try await corpus(settings, documents: 1, pagesEach: 2)
        var seeded = Generator(state: 11)
        let query = seeded.matrix(6)
        let hits = try await withClient(settings) { try await $0.exactSearch(embedding: query, model: Self.model, limit: 2) }
        let pageID = hits[0].pageID
        let tokens = (0..<6).map { "t\($0)" }
        let map = try await withClient(settings) { try await $0.similarityMap(embedding: query, tokens: tokens, pageID: pageID) }
        #expect(map.grid == 4 && map.scores.count == 6 && map.scores[0].count == 16)
        // The page's own vectors, fetched independently, dotted with the query.
        let stored = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT similarity_matrix(\(query), embedding[1:16][1:128]) FROM pages WHERE id = \(pageID)",
                              logger: logger).collect().first!.decode(MultiVector.self).values
        }
        let flat = map.scores.flatMap { $0 }
        #expect(flat.count == stored.count)
        #expect(zip(flat, stored).allSatisfy { abs($0 - $1) <= 1e-5 })
        // And against the vectors as generated, in double precision: the
        // first 16 rows (the patches) of the page the hit names.
        #expect(pages.count == 2)
        let page = pages[hits[0].pageNumber - 1]
        let reference = ReferenceScores.dots(query.values, rows: 6, Array(page.values.prefix(16 * 128)), rows: 16, dim: 128)
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
        try await withClient(empty) { client in
            do {
                _ = try await client.search(embedding: query, model: Self.model)
                Issue.record("no error on an empty table")
            } catch let error as SearchError {
                #expect(error.description.contains("no searchable pages"))
            }
            await #expect(throws: SearchError.self) { try await client.search("   ") }
            await #expect(throws: SearchError.self) { try await client.search("anything") }  // no model
        }
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 1, pagesEach: 1)
        try await withClient(settings) { client in
            do {
                _ = try await client.search(embedding: query, model: "other/model")
                Issue.record("other model not reported")
            } catch let error as SearchError {
                #expect(error.description.contains(Self.model))
            }
            do {
                var other = Generator(state: 4)
                _ = try await client.search(embedding: other.matrix(2, 64), model: Self.model)
                Issue.record("dimension mismatch not reported")
            } catch {
                #expect("\(DatabaseErrors.describe(error))".contains("dimension mismatch"))
            }
            await #expect(throws: SearchError.self) { try await client.similarityMap(embedding: query, tokens: ["a", "b"], pageID: 999_999) }
            await #expect(throws: SearchError.self) { try await client.page(id: 999_999) }
            await #expect(throws: SearchError.self) { try await client.page(documentID: 1, number: 99) }
            let page = try await client.page(documentID: 1, number: 1)
            #expect(page.pageNumber == 1 && page.image == nil && page.width == 100)
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
                            _ = try await client.search(embedding: query, model: Self.model, limit: 2)
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
            // The pool replaces the dead connection.
            let next = try await client.search(embedding: query, model: Self.model, limit: 2)
            #expect(next.count == 2)
            return outcome
        }
        let message = try #require(failure)
        #expect(message.contains("terminating connection due to administrator command") && !message.contains("\n"), "\(message)")
    }

    @Test func documentsDeletionAndEnqueue() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 3, pagesEach: 2)
        try await withClient(settings) { client in
            let documents = try await client.documents()
            #expect(documents.count == 3 && documents.allSatisfy { $0.status == "ready" && $0.pageCount == 2 })
            #expect(try await client.deleteDocument(id: documents[0].id))
            #expect(try await !client.deleteDocument(id: documents[0].id))
            #expect(try await client.documents().count == 2)
            let job = try await client.enqueue(file: "/data/inbox/new.pdf", optionsJSON: "{\"force\": true}")
            #expect(job > 0)
        }
        let pages = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT count(*) FROM pages", logger: logger).collect().first!.decode(Int.self)
        }
        #expect(pages == 4)
    }

    @Test func textSearchWithTheModel() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let model = try await ColPali.load(Fixtures.model("hf-fp32").path, precision: .fp32,
                                                locator: ModelLocator(environment: ["HF_HUB_OFFLINE": "1"]))
        // Two pages embedded by the model itself.
        let images = try ["doc0.png", "doc1.png"].map { try RGBImage.load(contentsOf: Fixtures.image($0)) }
        let vectors = try model.embedDocuments(images, format: .transformers)
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(sourceURI: "file:///docs.pdf", contentHash: Data(repeating: 7, count: 32), title: "Docs",
                            model: model.checkpoint.identifier, promptFormat: "transformers", embeddingDim: 128),
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
