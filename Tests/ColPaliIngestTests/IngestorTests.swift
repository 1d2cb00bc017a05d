import ColPaliCore
import ColPaliIngest
import ColPaliModel
import ColPaliStorage
import Crypto
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The pipeline against a real Postgres with the tiny model.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct IngestorTests {
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
        options.metadata = ["team": .string("finance")]
        let first = options
        try await IngestFixtures.withIngestor(settings) { ingestor in
            var options = first
            let outcome = try await ingestor.ingest(path: path, options: options)
            guard case .stored(let id, let pages) = outcome else { Issue.record("\(outcome)"); return }
            #expect(pages == 3)
            try await Database.withConnection(settings, logger: logger) { c in
                let row = try await c.query("""
                    SELECT d.status, d.page_count, d.title, c.name, c.model_name, c.prompt_format, c.embedding_dim, d.content_hash,
                           d.source_uri, d.metadata->>'team', d.source_page_count, d.tenant
                    FROM documents d JOIN collections c ON c.id = d.collection_id WHERE d.id = \(id)
                    """, logger: logger).collect().first!
                let (status, count, title, collection, model, format, dim, hash, uri, team, sourcePages, tenant) =
                    try row.decode((String, Int, String, String, String, String, Int, Data, String, String, Int, String).self)
                #expect(status == "ready" && count == 3 && title == "Annual report")
                #expect(collection == "default" && tenant == "" && sourcePages == 3)
                #expect(model == ingestor.model.identifier && format == "transformers" && dim == 128)
                #expect(hash == Data(SHA256.hash(data: data)))
                #expect(uri.hasPrefix("file:///") && uri.hasSuffix("report.pdf"))
                #expect(team == "finance")
                let pages = try await c.query("""
                    SELECT page_number, width, height, multivector_rows(embedding), multivector_dim(embedding),
                           length(binary_quantize(embedding)), patch_grid, image_type, image
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
            // The same file again: nothing new; with force: embedded again in place.
            #expect(try await ingestor.ingest(path: path, options: options) == .alreadyStored(documentID: id))
            options.force = true
            #expect(try await ingestor.ingest(path: path, options: options) == .addedPages(documentID: id, pages: [1, 2, 3]))
            #expect(try await count("SELECT count(*) FROM documents", settings) == 1)
            #expect(try await count("SELECT count(*) FROM pages WHERE document_id = \(id)", settings) == 3)
        }
    }

    @Test func imagesAreOnePageDocumentsAndPageRangesAddUp() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-ingest")
        let path = try TestPDF.write(TestPDF.make(pages: Array(repeating: .init(), count: 6), seed: 3), named: "six.pdf", in: directory)
        try await IngestFixtures.withIngestor(settings) { ingestor in
            guard case .stored(_, 1) = try await ingestor.ingest(path: Fixtures.image("doc0.png").path, options: IngestOptions()) else {
                Issue.record("image not stored"); return
            }
            var options = IngestOptions()
            options.dpi = 50
            options.pages = PageRange("2-3,6")!
            guard case .stored(let id, 3) = try await ingestor.ingest(path: path, options: options) else {
                Issue.record("range not applied"); return
            }
            #expect(try await count("SELECT count(*) FROM pages WHERE document_id = \(id) AND page_number IN (2, 3, 6)", settings) == 3)
            // A later range adds only the pages not stored yet, to the same document.
            options.pages = PageRange("1-3")!
            #expect(try await ingestor.ingest(path: path, options: options) == .addedPages(documentID: id, pages: [1]))
            #expect(try await count("SELECT page_count FROM documents WHERE id = \(id) AND source_page_count = 6", settings) == 4)
            #expect(try await ingestor.ingest(path: path, options: options) == .alreadyStored(documentID: id))
        }
    }

    /// The same file is one document per collection and tenant; within one,
    /// adding it again with new metadata changes only the metadata.
    @Test func documentsAreKeyedByCollectionTenantAndContent() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let path = Fixtures.image("doc1.png").path
        try await IngestFixtures.withIngestor(settings) { ingestor in
            var ids: Set<Int> = []
            for (collection, tenant) in [("default", ""), ("default", "acme"), ("manuals", ""), ("manuals", "acme")] {
                var options = IngestOptions()
                options.collection = collection
                options.tenant = tenant
                guard case .stored(let id, 1) = try await ingestor.ingest(path: path, options: options) else {
                    Issue.record("\(collection)/\(tenant) not stored"); return
                }
                ids.insert(id)
                #expect(try await ingestor.ingest(path: path, options: options) == .alreadyStored(documentID: id))
            }
            #expect(ids.count == 4)
            #expect(try await count("SELECT count(*) FROM collections", settings) == 2)
            var options = IngestOptions()
            options.tenant = "acme"
            options.metadata = ["year": .number(2026)]
            options.title = "Scanned page"
            guard case .updated(let id) = try await ingestor.ingest(path: path, options: options) else {
                Issue.record("metadata not updated"); return
            }
            #expect(try await count("""
                SELECT count(*) FROM documents WHERE id = \(id) AND tenant = 'acme' AND title = 'Scanned page'
                  AND metadata = '{"year": 2026}'::jsonb
                """, settings) == 1)
            #expect(try await count("SELECT count(*) FROM pages", settings) == 4)
        }
    }

    /// A collection made by one model refuses another's pages, by content:
    /// the same files in another directory are the same model.
    @Test func aCollectionTakesPagesOfItsOwnModelOnly() async throws {
        let settings = try await TestPostgres.freshDatabase()
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("""
                INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
                VALUES ('theirs', 'sha256:' || repeat('0', 64), 'vidore/colpali-v1.3', 128, 'transformers')
                """, logger: logger)
        }
        try await IngestFixtures.withIngestor(settings) { ingestor in
            var options = IngestOptions()
            options.collection = "theirs"
            do {
                let outcome = try await ingestor.ingest(path: Fixtures.image("doc0.png").path, options: options)
                Issue.record("stored in another model's collection: \(outcome)")
            } catch let error as CollectionError {
                #expect(error == .otherModel(collection: "theirs", collectionModel: "vidore/colpali-v1.3", model: ingestor.model.identifier))
            }
            #expect(try await count("SELECT count(*) FROM documents", settings) == 0)
            options.collection = "not a name"
            await #expect(throws: CollectionError.invalidName("not a name")) {
                try await ingestor.ingest(path: Fixtures.image("doc0.png").path, options: options)
            }
        }
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
            // A 600-byte PDF whose page box once trapped converting to Int.
            ("hugebox.pdf", TestPDF.make(pages: [.init(rawMediaBox: "[0 0 99999999999999999999999 99999999999999999999999]")]),
             "over the limit of 100 megapixels"),
            ("huge.png", HostileImages.png(width: 30000, height: 30000), "30000 x 30000 pixels is over the limit of 100 megapixels"),
            ("wide.jpg", HostileImages.jpeg(width: 60000, height: 2), "60000 x 2 pixels is over the limit"),
            ("missing.pdf", nil, "no such file"),
            // A script that mentions the PDF header is not a damaged PDF.
            ("make_pdf.py", Data("header = b'%PDF-1.4'\nprint(header)\n".utf8), "is not a PDF, PNG or JPEG file"),
        ]
        try await IngestFixtures.withIngestor(settings) { ingestor in
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

    /// Files that are not files, or cannot be opened: a clear reason each,
    /// nothing recorded about them, and the batch goes on.
    @Test func unreadableSourcesSayWhy() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-unreadable")
        let fifo = directory.appendingPathComponent("fifo.pdf").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let loop = directory.appendingPathComponent("loop.pdf").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        let folder = directory.appendingPathComponent("folder.pdf")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // A name that is not UTF-8: Swift sees U+FFFD where the byte was.
        let rawName = directory.path + "/caf\u{FFFD}.pdf"
        let raw = Array(directory.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".pdf".utf8) + [0]
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0)
        close(fd)
        let cases = [(fifo, "not a regular file"), (loop, "too many levels of symbolic links"), (folder.path, "it is a directory"),
                     (rawName, "its name is not valid UTF-8")]
        try await IngestFixtures.withIngestor(settings) { ingestor in
            for (path, reason) in cases {
                let outcome = try await ingestor.ingest(path: path, options: IngestOptions())
                #expect(outcome == .failed(documentID: nil, reason: "cannot read \(path): \(SourceFileReasons.expand(reason))"), "\(outcome)")
            }
        }
        #expect(try await count("SELECT count(*) FROM documents", settings) == 0)
    }

    @Test func documentsOverThePageLimitFailWithTheLimitNamed() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-pages")
        let path = try TestPDF.write(TestPDF.make(pages: Array(repeating: .init(), count: 5)), named: "five.pdf", in: directory)
        var options = IngestOptions()
        options.dpi = 50
        options.maximumPages = 4
        let overLimit = options
        try await IngestFixtures.withIngestor(settings) { ingestor in
            var options = overLimit
            guard case .failed(_, let reason) = try await ingestor.ingest(path: path, options: options) else {
                Issue.record("stored over the limit"); return
            }
            #expect(reason == "5 pages selected, more than the limit of 4 per document; ingest page ranges separately")
            options.pages = PageRange("1-4")!
            guard case .stored(_, 4) = try await ingestor.ingest(path: path, options: options) else {
                Issue.record("a range under the limit"); return
            }
        }
    }

    /// Queued options are checked, not trusted: unknown keys and wrong types
    /// are errors that name them.
    /// --pool-factor 3: each page keeps a third of the model's vectors,
    /// unit-length cluster means, with no patch grid; the same file
    /// unpooled in another collection keeps all of them.
    @Test func pooledPagesKeepAThirdOfTheirVectors() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-pool")
        let path = try TestPDF.write(TestPDF.make(pages: [.init(), .init()], seed: 9), named: "pooled.pdf", in: directory)
        try await IngestFixtures.withIngestor(settings) { ingestor in
            var options = IngestOptions()
            options.dpi = 72
            _ = try await ingestor.ingest(path: path, options: options)
            options.collection = "pooled"
            options.poolFactor = 3
            guard case .stored(let id, 2) = try await ingestor.ingest(path: path, options: options) else {
                Issue.record("the pooled document was not stored"); return
            }
            try await Database.withConnection(settings, logger: logger) { c in
                let rows = try await c.query("""
                    SELECT p.document_id = \(id), p.pool_factor, p.patch_grid, multivector_rows(p.embedding), p.embedding::real[]
                    FROM pages p ORDER BY p.document_id, p.page_number
                    """, logger: logger).collect().map { try $0.decode((Bool, Int, Int, Int, MultiVector).self) }
                #expect(rows.map(\.0) == [false, false, true, true])
                #expect(rows.prefix(2).allSatisfy { $0.1 == 1 && $0.2 == 4 && $0.3 == 28 })
                #expect(rows.suffix(2).allSatisfy { $0.1 == 3 && $0.2 == 0 && $0.3 == 28 / 3 })
                for (_, _, _, _, vectors) in rows.suffix(2) {
                    for r in 0..<vectors.rows {
                        let norm = vectors.row(r).reduce(0) { $0 + $1 * $1 }.squareRoot()
                        #expect(abs(norm - 1) < 2e-3, "row \(r) has length \(norm)")
                    }
                }
            }
        }
    }

    @Test func jobOptionsAreValidated() throws {
        let defaults = IngestOptions()
        let bad: [(String, String)] = [
            (#"{"dpi": "300"}"#, "dpi must be a number in 10...1200"),
            (#"{"dpi": 1e300}"#, "dpi must be a number in 10...1200"),
            (#"{"dpi": true}"#, "dpi must be a number in 10...1200"),
            (#"{"force": "yes"}"#, "force must be true or false"),
            (#"{"pages": 5}"#, "pages must be a page range"),
            (#"{"pages": "7-2"}"#, "pages must be a page range"),
            (#"{"store_images": "gif"}"#, "store_images must be"),
            ("{\"title\": \"\(String(repeating: "t", count: 1001))\"}", "title must be text of at most 1000 characters"),
            (#"{"metadata": [1, 2]}"#, "metadata must be a JSON object"),
            ("{\"metadata\": {\"notes\": \"\(String(repeating: "m", count: 16_400))\"}}", "metadata must be at most 16384 bytes of JSON"),
            ("{\"title\": \"t\", \"pad\": \"\(String(repeating: " ", count: 70_000))\"}", "options must be at most 65536 bytes of JSON"),
            (#"{"pool_factor": 0}"#, "pool_factor must be a whole number in 1...64"),
            (#"{"pool_factor": 65}"#, "pool_factor must be a whole number in 1...64"),
            (#"{"pool_factor": 2.5}"#, "pool_factor must be a whole number in 1...64"),
            (#"{"pool_factor": "3"}"#, "pool_factor must be a whole number in 1...64"),
            (#"{"pool_factor": true}"#, "pool_factor must be a whole number in 1...64"),
            (#"{"collection": "../etc"}"#, "collection '../etc' is not a collection name"),
            (#"{"collection": 7}"#, "collection must be a collection name"),
            ("{\"tenant\": \"\(String(repeating: "t", count: 201))\"}", "tenant must be at most 200 characters"),
            (#"{"max_pages": 1000000}"#, "unknown option 'max_pages'"),
            (#"{"priority": 1}"#, "unknown option 'priority'"),
            (#"[1]"#, "options must be a JSON object"),
            (#"{"dpi": "#, "options must be a JSON object (the text is not valid JSON)"),
        ]
        for (options, message) in bad {
            do {
                _ = try defaults.applying(jobJSON: options)
                Issue.record("accepted \(options)")
            } catch {
                #expect(String(describing: error).hasPrefix(message), "\(options): \(error)")
            }
        }
        let good = try defaults.applying(jobJSON: """
            {"dpi": 150, "force": true, "pages": "1-2", "store_images": "png", "title": "T", "metadata": {"team": "a"},
             "collection": "manuals", "tenant": "acme", "pool_factor": 3}
            """)
        #expect(good.poolFactor == 3 && defaults.poolFactor == 1)
        #expect(good.dpi == 150 && good.force && good.pages == PageRange("1-2") && good.storeImages == .png && good.title == "T")
        #expect(good.metadata == ["team": .string("a")] && good.collection == "manuals" && good.tenant == "acme")
        #expect(good.maximumPages == IngestOptions.defaultMaximumPages)
        // What the CLI queues reads back as the same options.
        var flags = JobOptions()
        flags.collection = "manuals"
        flags.metadata = ["n": .number(1)]
        flags.storeImages = JobOptions.ImageStorage.none
        let text = String(decoding: try JSONEncoder().encode(flags), as: UTF8.self)
        let back = try defaults.applying(jobJSON: text)
        #expect(back.collection == "manuals" && back.metadata == ["n": .number(1)] && back.storeImages == .none)
    }
}

/// Reasons as SourceFile words them.
enum SourceFileReasons {
    static func expand(_ reason: String) -> String {
        switch reason {
        case "not a regular file": return "not a regular file (a device, FIFO or socket)"
        case "too many levels of symbolic links": return "too many levels of symbolic links (a symlink loop, or a link where none may be)"
        case "its name is not valid UTF-8": return "no such file (its name is not valid UTF-8; rename it)"
        default: return reason
        }
    }
}

/// Image files whose headers announce more pixels than any page may have:
/// small files that would decode to gigabytes.
enum HostileImages {
    /// A real PNG with its IHDR size rewritten (and its CRC recomputed).
    static func png(width: UInt32, height: UInt32) -> Data {
        var bytes = [UInt8](try! RGBImage(width: 4, height: 4, pixels: Array(repeating: 200, count: 48)).pngData())
        // Signature (8), IHDR length (4) and type (4), then width and height.
        for (offset, value) in [(16, width), (20, height)] {
            for k in 0..<4 { bytes[offset + k] = UInt8((value >> (24 - 8 * UInt32(k))) & 0xFF) }
        }
        let crc = crc32(bytes[12..<29])
        for k in 0..<4 { bytes[29 + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xFF) }
        return Data(bytes)
    }

    /// A real JPEG with its SOF0 size rewritten.
    static func jpeg(width: UInt16, height: UInt16) -> Data {
        var bytes = [UInt8](try! RGBImage(width: 8, height: 8, pixels: Array(repeating: 90, count: 192)).jpegData())
        var i = 2
        while i + 9 < bytes.count {
            guard bytes[i] == 0xFF else { break }
            let marker = bytes[i + 1]
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if marker == 0xC0 {
                bytes[i + 5] = UInt8(height >> 8); bytes[i + 6] = UInt8(height & 0xFF)
                bytes[i + 7] = UInt8(width >> 8); bytes[i + 8] = UInt8(width & 0xFF)
                break
            }
            i += 2 + length
        }
        return Data(bytes)
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
