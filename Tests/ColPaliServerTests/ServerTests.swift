import ColPaliCore
import ColPaliModel
import ColPaliSearch
@testable import ColPaliServer
import ColPaliStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing
import TestSupport

/// `colpali serve` over real HTTP against a real Postgres: answers equal the
/// library's, every bad request gets a JSON error with the right status, and
/// nothing is lost on the way.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct ServerTests {
    let logger = TestPostgres.logger
    static let writeToken = "write-token-0123456789abcdef"
    static let readToken = "read-token-0123456789abcdef"

    /// Documents of random 20-row pages in collection `default` (dimension 128); page 1 of document 1 with a PNG image.
    func corpus(_ settings: ConnectionSettings, documents: Int = 4, pagesEach: Int = 3) async throws -> (image: Data, pages: [MultiVector]) {
        var random = SeededRandom(7)
        let image = try RGBImage(width: 8, height: 6, pixels: (0..<(8 * 6 * 3)).map { UInt8($0 % 251) }).pngData()
        var pages: [MultiVector] = []
        try await Database.withConnection(settings, logger: logger) { c in
            let collection = try await CollectionStore(logger: logger).resolve(
                "default", for: CollectionModel(identity: "name:test/model", name: "test/model", embeddingDimension: 128,
                                                promptFormat: .transformers), create: true, on: c)
            for d in 0..<documents {
                let vectors = (0..<pagesEach).map { _ in MultiVector(rows: 20, dim: 128, values: random.unitRows(20, 128)) }
                pages += vectors
                _ = try await DocumentStore(logger: logger).store(
                    NewDocument(key: DocumentKey(collectionID: collection.id, contentHash: Data(repeating: UInt8(d), count: 32)),
                                sourceURI: "file:///corpus/doc\(d).pdf", title: "Document \(d)",
                                metadata: ["team": .string(d % 2 == 0 ? "finance" : "legal")], sourcePageCount: pagesEach),
                    pages: vectors.enumerated().map { index, vector in
                        NewPage(pageNumber: index + 1, width: 8, height: 6,
                                image: d == 0 && index == 0 ? PageImage(data: image, type: .png) : nil,
                                embedding: vector, patchGrid: 4)
                    }, replace: false, on: c)
            }
        }
        return (image, pages)
    }

    func server(_ settings: ConnectionSettings, model: ColPali? = nil,
                configure: (inout SearchServer.Configuration) -> Void = { _ in }) throws -> SearchServer {
        var configuration = SearchServer.Configuration(database: settings)
        configuration.port = 0
        configuration.keys = try APIKeys.parse("read \(Self.readToken) reader; read,write \(Self.writeToken) writer")
        configure(&configuration)
        return SearchServer(configuration: configuration, model: model, logger: logger)
    }

    static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(buffer: response.body))
        return try #require(value as? [String: Any], "not a JSON object: \(String(buffer: response.body))")
    }

    /// The error body every refusal carries.
    static func error(_ response: TestResponse) throws -> (status: Int, code: String, message: String) {
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        let detail = try #require(try object(response)["error"] as? [String: Any])
        return (detail["status"] as! Int, detail["code"] as! String, detail["message"] as! String)
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    @Test func searchByVectorAnswersWhatTheLibraryAnswers() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let (_, pages) = try await corpus(settings)
        var random = SeededRandom(11)
        let query = MultiVector(rows: 6, dim: 128, values: random.unitRows(6, 128))
        let expected = try await SearchClient.with(database: settings, model: nil, logger: logger) {
            try await $0.search(embedding: query, limit: 5)
        }
        let rows = (0..<query.rows).map { Array(query.values[($0 * 128)..<(($0 + 1) * 128)]) }
        try await server(settings).application().test(.live) { client in
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["query_embedding": rows, "limit": 5])) { response in
                #expect(response.status == .ok)
                let body = try Self.object(response)
                let hits = try #require(body["hits"] as? [[String: Any]])
                #expect(hits.map { $0["page_id"] as! Int } == expected.map(\.pageID))
                // Scores travel as JSON numbers: equal to the float the library computed.
                #expect(hits.map { Float($0["score"] as! Double) } == expected.map(\.score))
                #expect(hits.first?["source_uri"] as? String == expected.first?.sourceURI)
                #expect((body["timings_ms"] as? [String: Double])?["total"] != nil)
            }
            // A filter narrows, as in the library.
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["query_embedding": rows, "limit": 20,
                                                      "filter": ["metadata": ["team": "legal"]]])) { response in
                let hits = try #require(try Self.object(response)["hits"] as? [[String: Any]])
                #expect(hits.count == pages.count / 2)
                #expect(hits.allSatisfy { ($0["metadata"] as? [String: String])?["team"] == "legal" })
            }
        }
    }

    @Test func badRequestsGetAClearJSONErrorAndTheRightStatus() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 1, pagesEach: 1)
        let row = [Float](repeating: 0.1, count: 128)
        let cases: [(body: ByteBuffer, status: Int, says: String)] = [
            (Self.json(["query_embedding": [row], "limt": 5]), 400, "unknown field 'limt'"),
            (Self.json(["query_embedding": [row], "question": "x"]), 400, "not both"),
            (Self.json(["limit": 5]), 400, "give a question or a query_embedding"),
            (Self.json(["query_embedding": [Array(row.prefix(64))]]), 400, "64-dimensional"),
            (Self.json(["query_embedding": [row, Array(row.prefix(5))]]), 400, "row 1 has 5 values"),
            (Self.json(["query_embedding": [row], "limit": 0]), 400, "limit 0 is outside"),
            (Self.json(["query_embedding": [row], "limit": "ten"]), 400, "limit must be an integer"),
            (Self.json(["query_embedding": "[[1]]"]), 400, "query_embedding must be an array"),
            (Self.json(["query_embedding": [row], "collection": "x'; DROP TABLE pages; --"]), 400, "is not a collection name"),
            (Self.json(["query_embedding": [row], "collection": "nothere"]), 404, "there is no collection 'nothere'"),
            (Self.json(["query_embedding": [row], "filter": ["source_prefix": "'; DELETE FROM documents; --"]]), 200, ""),
            // A NUL in a filter (schemathesis found this one as a 503): PostgreSQL text cannot hold it.
            (Self.json(["query_embedding": [row], "filter": ["metadata": ["a\u{0}b": 1]]]), 400, "NUL character"),
            (Self.json(["query_embedding": [row], "filter": ["source_prefix": "file:///\u{0}"]]), 400, "NUL character"),
            (Self.json(["query_embedding": [row], "filter": ["document_ids": Array(1...10_001)]]), 400, "at most 10000"),
            (Self.json(["query_embedding": [row], "filter": ["metadata": ["k": String(repeating: "x", count: 17_000)]]]), 400,
             "larger than 16384 bytes"),
            (Self.json(["question": "what is shown?"]), 400, "no model loaded"),
            (ByteBuffer(string: "{not json"), 400, "not JSON"),
            (ByteBuffer(string: ""), 400, "the body is empty"),
            (ByteBuffer(bytes: [UInt8](repeating: 32, count: (8 << 20) + 1)), 413, "larger than"),
        ]
        try await server(settings).application().test(.live) { client in
            for item in cases {
                try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                         body: item.body) { response in
                    #expect(response.status.code == item.status, "\(item.says): \(String(buffer: response.body))")
                    if item.status != 200 {
                        let error = try Self.error(response)
                        #expect(error.status == item.status)
                        #expect(error.message.contains(item.says), "\(error.message)")
                    }
                }
            }
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "text/plain"],
                                     body: Self.json(["query_embedding": [row]])) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/v1/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                let answer = try Self.error(response)
                #expect(answer.code == "not_found")
            }
            try await client.execute(uri: "/v1/documents?limit=abc", method: .get) { response in
                let answer = try Self.error(response)
                #expect(answer.message == "limit must be an integer from 1 to 1000")
            }
            try await client.execute(uri: "/v1/documents?colection=x", method: .get) { response in
                let answer = try Self.error(response)
                #expect(answer.message.contains("unknown query parameter 'colection'"))
            }
            try await client.execute(uri: "/v1/pages/0", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v1/pages/999999", method: .get) { response in
                #expect(response.status == .notFound)
                let answer = try Self.error(response)
                #expect(answer.message == "there is no page with id 999999")
            }
        }
        // Nothing the requests said reached SQL as text: every table and row is still there.
        let counts = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM pages)", logger: logger)
                .collect().first!.decode((Int, Int).self)
        }
        #expect(counts == (1, 1))
    }

    @Test func writesNeedAWriteKeyAndDeletingRemovesTheDocument() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 2, pagesEach: 2)
        let documents = try await SearchClient.with(database: settings, model: nil, logger: logger) { try await $0.documents() }
        let target = try #require(documents.first).id
        try await server(settings).application().test(.live) { client in
            try await client.execute(uri: "/v1/documents/\(target)", method: .delete) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                let answer = try Self.error(response)
                #expect(answer.message.contains("write scope"))
            }
            try await client.execute(uri: "/v1/documents/\(target)", method: .delete, headers: Self.bearer(Self.readToken)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/documents", method: .get, headers: Self.bearer("wrong-token-0123456789abcdef")) { response in
                #expect(response.status == .unauthorized)
                let answer = try Self.error(response)
                #expect(answer.message == "the API key is not valid")
            }
            // Reading without a key from this machine is allowed.
            try await client.execute(uri: "/v1/documents/\(target)", method: .get) { response in
                #expect(response.status == .ok)
                let answer = try Self.object(response)
                #expect(answer["id"] as? Int == target)
                // Empty fields are present as null, as the OpenAPI document says.
                #expect(answer["error"] is NSNull)
            }
            try await client.execute(uri: "/v1/documents/\(target)", method: .delete, headers: Self.bearer(Self.writeToken)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/v1/documents/\(target)", method: .delete, headers: Self.bearer(Self.writeToken)) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/documents", method: .get, headers: Self.bearer(Self.readToken)) { response in
                let listed = try #require(try Self.object(response)["documents"] as? [[String: Any]])
                #expect(listed.map { $0["id"] as! Int } == documents.dropFirst().map(\.id))
            }
        }
        let left = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT count(*) FROM pages p JOIN documents d ON d.id = p.document_id", logger: logger)
                .collect().first!.decode(Int.self)
        }
        #expect(left == 2)
    }

    @Test func pagesImagesHealthMetricsAndTheOpenAPIDocument() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let (image, _) = try await corpus(settings, documents: 1, pagesEach: 2)
        let pageIDs = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT id FROM pages ORDER BY page_number", logger: logger).collect().map { try $0.decode(Int.self) }
        }
        let server = try server(settings)
        let routes = server.router().routes
        try await server.application().test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let answer = try Self.object(response)
                #expect(answer["collections"] as? Int == 1)
            }
            try await client.execute(uri: "/v1/pages/\(pageIDs[0])/image", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/png")
                #expect(Data(buffer: response.body) == image)
            }
            // No stored image, and the source file is not there: a 404 that does not name the server's paths.
            try await client.execute(uri: "/v1/pages/\(pageIDs[1])/image", method: .get) { response in
                #expect(response.status == .notFound)
                let message = try Self.error(response).message
                #expect(message.contains("no stored image") && !message.contains("/corpus/"))
            }
            try await client.execute(uri: "/v1/pages/\(pageIDs[1])", method: .get) { response in
                let page = try Self.object(response)
                #expect(page["page_number"] as? Int == 2 && page["has_stored_image"] as? Bool == false)
            }
            try await client.execute(uri: "/v1/pages/\(pageIDs[0])/map?question=x", method: .get) { response in
                let answer = try Self.error(response)
                #expect(answer.code == "model_required")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"colpali_http_request_duration_seconds_count{route="/v1/pages/{id}/image",method="GET",status="200"} 1"#),
                        "\(text)")
                #expect(text.contains(#"colpali_ingest_queue_jobs_total{status="queued"} 0"#))
            }
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                let document = try Self.object(response)
                #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                // Every route the server has is described, with its methods.
                for route in routes {
                    #expect(paths[route.path]?[route.method.lowercased()] != nil, "\(route.method) \(route.path) is not in openapi.json")
                }
                #expect(paths.values.map(\.count).reduce(0, +) == routes.count)
            }
        }
    }

    @Test func callersOverTheRateLimitAreToldWhenToComeBack() async throws {
        let settings = try await TestPostgres.freshDatabase()
        // One request's worth comes back every 100 s: a slow machine cannot refill the bucket mid-test.
        let app = try server(settings) { $0.rateLimit = .init(perSecond: 0.01, burst: 2) }.application()
        try await app.test(.live) { client in
            for _ in 0..<2 { try await client.execute(uri: "/v1/documents", method: .get) { #expect($0.status == .ok) } }
            try await client.execute(uri: "/v1/documents", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                let wait = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect((90...100).contains(wait), "Retry-After \(wait)")
                let answer = try Self.error(response)
                #expect(answer.code == "rate_limited")
            }
            // A key is a caller of its own.
            try await client.execute(uri: "/v1/documents", method: .get, headers: Self.bearer(Self.readToken)) { #expect($0.status == .ok) }
        }
    }

    static func form(file: Data, filename: String = "report.pdf", options: String? = nil) -> (HTTPFields, ByteBuffer) {
        var parts = [("Content-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: application/pdf", file)]
        if let options { parts.append(("Content-Disposition: form-data; name=\"options\"", Data(options.utf8))) }
        return ([.authorization: "Bearer \(writeToken)", .contentType: "multipart/form-data; boundary=XyZ-123"],
                ByteBuffer(bytes: MultipartTests.body(parts)))
    }

    @Test func uploadsLandInTheUploadDirectoryAndOnTheQueue() async throws {
        let settings = try await TestPostgres.freshDatabase()
        _ = try await corpus(settings, documents: 1, pagesEach: 1)
        let directory = try RepositoryPaths.temporaryDirectory("uploads")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pdf = TestPDF.make(pages: [.init()], title: "Uploaded")
        let app = try server(settings) {
            $0.uploadDirectory = directory
            $0.maximumUploadBytes = 64 * 1024
        }.application()
        try await app.test(.live) { client in
            let (headers, body) = Self.form(file: pdf, filename: "../../etc/Quarterly report.pdf",
                                             options: #"{"title": "Q3", "store_images": "jpeg", "collection": "default"}"#)
            let job = try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .accepted, "\(String(buffer: response.body))")
                let accepted = try Self.object(response)
                let file = try #require(accepted["file"] as? String)
                // The client's name is cleaned and never a path.
                #expect(file.hasSuffix("-Quarterly_report.pdf") && !file.contains("/"))
                #expect(FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) == pdf)
                return try #require(accepted["job_id"] as? Int)
            }
            try await client.execute(uri: "/v1/jobs/\(job)", method: .get) { response in
                let status = try Self.object(response)
                #expect(status["state"] as? String == "queued" && status["attempts"] as? Int == 0)
            }
            try await client.execute(uri: "/v1/queue", method: .get) { response in
                let counts = try Self.object(response)
                #expect(counts["queued"] as? Int == 1 && counts["done"] as? Int == 0)
            }
            // Refusals, each with its status; none reaches the queue.
            let refusals: [(HTTPFields, ByteBuffer, Int, String)] = [
                (Self.form(file: Data("#!/bin/sh\nrm -rf /".utf8)).0, Self.form(file: Data("#!/bin/sh\nrm -rf /".utf8)).1, 415,
                 "not a PDF, PNG or JPEG"),
                (Self.form(file: pdf, options: #"{"titel": "x"}"#).0, Self.form(file: pdf, options: #"{"titel": "x"}"#).1, 400, "titel"),
                (Self.form(file: pdf, options: #"{"title": "a\u0000b"}"#).0, Self.form(file: pdf, options: #"{"title": "a\u0000b"}"#).1, 400,
                 "NUL character"),
                (Self.form(file: pdf, options: #"{"collection": "nothere"}"#).0,
                 Self.form(file: pdf, options: #"{"collection": "nothere"}"#).1, 404, "no collection 'nothere'"),
                (Self.form(file: Data("%PDF-".utf8) + Data(count: 70 * 1024)).0,
                 Self.form(file: Data("%PDF-".utf8) + Data(count: 70 * 1024)).1, 413, "larger than 65536 bytes"),
                ([.authorization: "Bearer \(Self.writeToken)", .contentType: "application/pdf"], ByteBuffer(bytes: pdf), 415, "multipart"),
                (Self.form(file: pdf).0, ByteBuffer(bytes: MultipartTests.body(Array(repeating: (
                    "Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"", pdf), count: 2))), 400, "more than one 'file' part"),
                (Self.form(file: pdf).0, ByteBuffer(bytes: MultipartTests.body([
                    ("Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"", pdf),
                    ("Content-Disposition: form-data; name=\"colour\"", Data("red".utf8))])), 400, "unknown form field 'colour'"),
                ([.contentType: "multipart/form-data; boundary=XyZ-123"], body, 401, "write scope"),
            ]
            for (headers, body, status, says) in refusals {
                try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status.code == status, "\(says): \(String(buffer: response.body))")
                    let error = try Self.error(response)
                    #expect(error.message.contains(says), "\(error.message)")
                }
            }
        }
        let jobs = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT options::text FROM ingest_jobs", logger: logger).collect().map { try $0.decode(String.self) }
        }
        #expect(jobs == [#"{"title": "Q3", "collection": "default", "store_images": "jpeg"}"#])
        // Only the one file (no temporary leftovers).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 1)
    }

    @Test func questionsAndSimilarityMapsWithTheModel() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let model = try await ColPali.load(Fixtures.model("hf-fp32").path, precision: .fp32,
                                           locator: ModelLocator(environment: ["HF_HUB_OFFLINE": "1"]))
        let files = ["doc0.png", "doc1.png"]
        let images = try files.map { try RGBImage.load(contentsOf: Fixtures.image($0)) }
        let vectors = try model.embedDocuments(images, format: .transformers)
        try await Database.withConnection(settings, logger: logger) { c in
            let collection = try await CollectionStore(logger: logger).resolve("default", for: CollectionModel(
                identity: model.identity, name: model.identifier, embeddingDimension: 128, promptFormat: .transformers), create: true, on: c)
            _ = try await DocumentStore(logger: logger).store(
                NewDocument(key: DocumentKey(collectionID: collection.id, contentHash: Data(repeating: 7, count: 32)),
                            sourceURI: "file:///docs.pdf", title: "Docs", sourcePageCount: 2),
                pages: try vectors.enumerated().map { index, vector in
                    NewPage(pageNumber: index + 1, width: images[index].width, height: images[index].height,
                            image: PageImage(data: try images[index].pngData(), type: .png),
                            embedding: MultiVector(rows: vector.rows, dim: 128, values: vector.values), patchGrid: model.patchGrid)
                }, replace: false, on: c)
        }
        let expected = try await SearchClient.with(database: settings, model: model, logger: logger) {
            try await $0.search("What is shown?", limit: 2)
        }
        try await server(settings, model: model).application().test(.live) { client in
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["question": "What is shown?", "limit": 2])) { response in
                let body = try Self.object(response)
                let hits = try #require(body["hits"] as? [[String: Any]])
                #expect(hits.map { $0["page_id"] as! Int } == expected.map(\.pageID))
                #expect(hits.map { Float($0["score"] as! Double) } == expected.map(\.score))
                #expect((body["timings_ms"] as? [String: Double])?["embed"] != nil)
            }
            let page = expected[0]
            let question = "What%20is%20shown%3F"
            let tokens = try await client.execute(uri: "/v1/pages/\(page.pageID)/map.json?question=\(question)", method: .get) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let info = try Self.object(response)
                #expect(info["grid"] as? Int == model.patchGrid)
                return try #require(info["tokens"] as? [[String: Any]])
            }
            // The question's words only: no prompt, no padding.
            let words = tokens.map { $0["text"] as! String }
            #expect(!words.isEmpty && !words.contains("<pad>") && !words.contains("Question"), "\(words)")
            #expect(words.joined() == "What is shown?", "\(words)")
            // '+' for spaces, as urlencode writes a query string: the same question.
            try await client.execute(uri: "/v1/pages/\(page.pageID)/map.json?question=What+is+shown%3F", method: .get) { response in
                let again = try #require(try Self.object(response)["tokens"] as? [[String: Any]])
                #expect(again.map { $0["text"] as! String } == words)
            }
            let index = page.pageNumber - 1
            var maps: [RGBImage] = []
            for uri in ["/v1/pages/\(page.pageID)/map?question=\(question)&legend=false",
                        "/v1/pages/\(page.pageID)/map?question=\(question)&token=\(tokens[0]["index"] as! Int)&legend=false",
                        "/v1/pages/\(page.pageID)/map?question=\(question)"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "image/png")
                    maps.append(try RGBImage.decode(Data(buffer: response.body), source: "map"))
                }
            }
            // The map alone is the page's size, and differs from the page and from one token's map.
            #expect(maps[0].width == images[index].width && maps[0].height == images[index].height)
            #expect(maps[0].pixels != images[index].pixels && maps[1].pixels != maps[0].pixels)
            // With the legend: the same map on top (widened on white to be readable), a legend strip below.
            let legend = maps[2]
            #expect(legend.width == max(images[index].width, 360) && legend.height > images[index].height + 20)
            let (pageWidth, pageHeight) = (images[index].width, images[index].height)
            var top: [UInt8] = []
            for y in 0..<pageHeight {
                let start: Int = y * legend.width * 3
                top += legend.pixels[start..<(start + pageWidth * 3)]
            }
            #expect(top == maps[0].pixels)
            let strip = legend.pixels[(images[index].height * legend.width * 3)...]
            #expect(Set(strip).count > 10, "the legend strip is blank")
            try await client.execute(uri: "/v1/pages/\(page.pageID)/map?question=\(question)&token=999", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            // A question past the model's limits (schemathesis found this one as a 500): 400, saying the limit.
            let zalgo = String(repeating: "T\u{0330}\u{0331}o\u{035e} ", count: 60)
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["question": zalgo])) { response in
                #expect(response.status == .badRequest)
                let error = try Self.error(response)
                #expect(error.message.contains("at most 256 tokens"), "\(error.message)")
            }
            try await client.execute(uri: "/v1/pages/\(page.pageID)/map", method: .get) { response in
                let error = try Self.error(response)
                #expect(error.message == "question is required")
            }
        }
    }

    @Test func vectorsFromElsewhereAreImportedAtOnce() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("uploads")
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = try Data(contentsOf: Fixtures.image("doc0.png"))
        var random = SeededRandom(21)
        let page = random.unitRows(28, 128)
        let options = Data(#"{"collection": "imported", "title": "From a GPU"}"#.utf8)
        @Sendable func form(_ embeddings: Data, name: String = "page.npy", model: String? = "tiny-colpali", grid: String? = "4",
                            options: Data = options) -> ByteBuffer {
            var parts = [("Content-Disposition: form-data; name=\"file\"; filename=\"doc0.png\"", image),
                         ("Content-Disposition: form-data; name=\"embeddings\"; filename=\"\(name)\"", embeddings),
                         ("Content-Disposition: form-data; name=\"options\"", options)]
            if let model { parts.append(("Content-Disposition: form-data; name=\"model\"", Data(model.utf8))) }
            if let grid { parts.append(("Content-Disposition: form-data; name=\"patch_grid\"", Data(grid.utf8))) }
            return ByteBuffer(bytes: MultipartTests.body(parts))
        }
        let headers: HTTPFields = [.authorization: "Bearer \(Self.writeToken)", .contentType: "multipart/form-data; boundary=XyZ-123"]
        try await server(settings) { $0.uploadDirectory = directory }.application().test(.live) { client in
            let refusals: [(ByteBuffer, Int, String)] = [
                (form(TestNumpy.npy([2, 28, 128], page + page)), 422, "the embeddings hold 2 pages but the document has 1 selected"),
                (form(TestNumpy.npy([28, 128], [Float.nan] + page.dropFirst())), 400, "NaN"),
                (form(TestNumpy.npy([28, 128], page), model: nil), 400, "name the model"),
                (form(TestNumpy.npy([28, 128], page), grid: nil), 422, "not 32 x 32 patches"),
                (form(TestNumpy.npy([28, 128], page), name: "page.pt"), 415, ".npy, .npz or .safetensors"),
                // A small field is held in memory, so it has a cap of its own, far below the upload's.
                (form(TestNumpy.npy([28, 128], page), options: Data(repeating: 0x20, count: 70_000) + options), 413,
                 "the 'options' field is larger than 65536 bytes"),
            ]
            for (body, status, says) in refusals {
                try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status.code == status, "\(says): \(String(buffer: response.body))")
                    let error = try Self.error(response)
                    #expect(error.message.contains(says), "\(error.message)")
                }
            }
            let document = try await client.execute(uri: "/v1/documents", method: .post, headers: headers,
                                                    body: form(TestNumpy.npy([28, 128], page))) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let body = try Self.object(response)
                #expect(body["pages"] as? Int == 1)
                return try #require(body["document_id"] as? Int)
            }
            // Searchable at once with the same vectors: the page is its own best match, at its exact MaxSim.
            let query = (0..<4).map { Array(page[($0 * 128)..<(($0 + 1) * 128)]) }
            try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["query_embedding": query, "collection": "imported"])) { response in
                let hits = try #require(try Self.object(response)["hits"] as? [[String: Any]])
                #expect(hits.first?["document_id"] as? Int == document)
                #expect(hits.first?["title"] as? String == "From a GPU")
            }
        }
        #expect(try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT count(*) FROM pages", logger: logger).collect().first!.decode(Int.self)
        } == 1)
        // Neither the refused uploads nor the accepted one left anything staged
        // (documents and embeddings are staged here): only the accepted document is there.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 1)
    }

    @Test func crossOriginCallsOnlyFromListedOrigins() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let preflight: HTTPFields = [.origin: "https://app.example.com", .accessControlRequestMethod: "POST",
                                     .accessControlRequestHeaders: "authorization, content-type"]
        // Off by default: no CORS headers for anyone.
        try await server(settings).application().test(.live) { client in
            try await client.execute(uri: "/v1/documents", method: .get, headers: [.origin: "https://app.example.com"]) { response in
                #expect(response.status == .ok && response.headers[.accessControlAllowOrigin] == nil)
            }
        }
        try await server(settings) { $0.corsOrigins = ["https://app.example.com"] }.application().test(.live) { client in
            try await client.execute(uri: "/v1/search", method: .options, headers: preflight) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            }
            try await client.execute(uri: "/v1/documents", method: .get, headers: [.origin: "https://app.example.com"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
            }
            // Another origin: no permission, and its preflight does not pass access control.
            try await client.execute(uri: "/v1/documents", method: .get, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            var other = preflight
            other[.origin] = "https://evil.example"
            try await client.execute(uri: "/v1/search", method: .options, headers: other) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
                #expect(response.status != .noContent)
            }
        }
    }
}
