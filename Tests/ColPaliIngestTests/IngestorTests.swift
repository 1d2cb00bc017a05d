import ColPaliIngest
import ColPaliModel
import ColPaliStorage
import Crypto
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The pipeline against a real Postgres with the tiny model.
@Suite(.serialized) struct IngestorTests {
    let logger = TestPostgres.logger

    func count(_ sql: PostgresQuery, _ settings: ConnectionSettings) async throws -> Int {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(sql, logger: logger).collect().first?.decode(Int.self) ?? 0
        }
    }

    @Test func storesEveryPageOfAPDFThenSkipsTheSameContent() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-ingest")
        let data = TestPDF.make(pages: [.init(), .init(rotate: 90), .init(width: 300, height: 200)], title: "Annual report")
        let path = try TestPDF.write(data, named: "report.pdf", in: directory)
        var options = IngestOptions()
        options.dpi = 72
        options.storeImages = .png
        options.metadataJSON = "{\"team\": \"finance\"}"
        let ingestor = IngestFixtures.ingestor(settings)
        let outcome = try await ingestor.ingest(path: path, options: options)
        guard case .stored(let id, let pages) = outcome else { Issue.record("\(outcome)"); return }
        #expect(pages == 3)
        try await Database.withConnection(settings, logger: logger) { c in
            let row = try await c.query("""
                SELECT status, page_count, title, model, prompt_format, embedding_dim, content_hash, source_uri, metadata->>'team'
                FROM documents WHERE id = \(id)
                """, logger: logger).collect().first!
            let (status, count, title, model, format, dim, hash, uri, team) =
                try row.decode((String, Int, String, String, String, Int, Data, String, String).self)
            #expect(status == "ready" && count == 3 && title == "Annual report")
            #expect(model == Fixtures.model("hf-fp32").path && format == "transformers" && dim == 128)
            #expect(hash == Data(SHA256.hash(data: data)))
            #expect(uri.hasPrefix("file:///") && uri.hasSuffix("report.pdf"))
            #expect(team == "finance")
            let pages = try await c.query("""
                SELECT page_number, width, height, multivector_rows(embedding), multivector_dim(embedding),
                       length(embedding_codes), patch_grid, image_type, image
                FROM pages WHERE document_id = \(id) ORDER BY page_number
                """, logger: logger).collect()
            #expect(pages.count == 3)
            let decoded = try pages.map { try $0.decode((Int, Int, Int, Int, Int, Int, Int, String, Data).self) }
            #expect(decoded.map(\.0) == [1, 2, 3])
            #expect(decoded[0].1 == 200 && decoded[0].2 == 260)
            #expect(decoded[1].1 == 260 && decoded[1].2 == 200)  // rotated
            #expect(decoded.allSatisfy { $0.3 == 28 && $0.4 == 128 && $0.5 == 28 * 16 && $0.6 == 4 && $0.7 == "image/png" })
            let image = try RGBImage.decode(decoded[2].8)
            #expect(image.width == 300 && image.height == 200)
        }
        // The same file again: nothing new; with force: replaced atomically.
        #expect(try await ingestor.ingest(path: path, options: options) == .alreadyStored(documentID: id))
        options.force = true
        guard case .stored(let newID, 3) = try await ingestor.ingest(path: path, options: options) else {
            Issue.record("force did not re-embed"); return
        }
        #expect(newID != id)
        #expect(try await count("SELECT count(*) FROM documents", settings) == 1)
        #expect(try await count("SELECT count(*) FROM pages", settings) == 3)
    }

    @Test func imagesAreOnePageDocumentsAndPageRangesApply() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let ingestor = IngestFixtures.ingestor(settings)
        guard case .stored(_, 1) = try await ingestor.ingest(path: Fixtures.image("doc0.png").path, options: IngestOptions()) else {
            Issue.record("image not stored"); return
        }
        let directory = try RepositoryPaths.temporaryDirectory("colpali-ingest")
        let path = try TestPDF.write(TestPDF.make(pages: Array(repeating: .init(), count: 6), seed: 3), named: "six.pdf", in: directory)
        var options = IngestOptions()
        options.dpi = 50
        options.pages = PageRange("2-3,6")!
        guard case .stored(let id, 3) = try await ingestor.ingest(path: path, options: options) else {
            Issue.record("range not applied"); return
        }
        #expect(try await count("SELECT count(*) FROM pages WHERE document_id = \(id) AND page_number IN (2, 3, 6)", settings) == 3)
    }

    @Test func badInputIsRecordedAsFailedAndNothingElseIsLost() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-ingest-bad")
        let good = TestPDF.make(pages: [.init(), .init()], seed: 9)
        let cases: [(String, Data?, String)] = [
            ("truncated.pdf", good.prefix(good.count / 2), "damaged or truncated"),
            ("encrypted.pdf", try Data(contentsOf: Fixtures.root.appendingPathComponent("pdf/encrypted.pdf")), "encrypted"),
            ("empty.pdf", TestPDF.make(pages: []), "no pages"),
            ("notes.pdf", Data("just some text, not a pdf".utf8), "not a PDF"),
            ("huge.pdf", TestPDF.make(pages: [.init(width: 14400, height: 14400)]), "megapixels"),
            ("missing.pdf", nil, "no such file"),
        ]
        let ingestor = IngestFixtures.ingestor(settings)
        for (name, data, reason) in cases {
            let path = data.map { try! TestPDF.write($0, named: name, in: directory) } ?? directory.appendingPathComponent(name).path
            let outcome = try await ingestor.ingest(path: path, options: IngestOptions())
            guard case .failed(let id, let message) = outcome else { Issue.record("\(name): \(outcome)"); continue }
            #expect(message.contains(reason), "\(name): \(message)")
            if data != nil {
                let id = try #require(id)
                #expect(try await count("SELECT count(*) FROM documents WHERE id = \(id) AND status = 'failed' AND error IS NOT NULL", settings) == 1)
            }
        }
        #expect(try await count("SELECT count(*) FROM pages", settings) == 0)
        // A good file still goes in, and a failed one is retried when added again.
        let path = try TestPDF.write(good, named: "good.pdf", in: directory)
        guard case .stored = try await ingestor.ingest(path: path, options: IngestOptions()) else { Issue.record("good file"); return }
    }
}
