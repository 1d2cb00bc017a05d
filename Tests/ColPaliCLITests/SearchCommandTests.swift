import ColPaliModel
import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The README's flow through the binaries: ingest the sample, search, explain, list, delete.
@Suite(.serialized) struct SearchCommandTests {
    let colpali = RepositoryPaths.executable("colpali")
    let ingest = RepositoryPaths.executable("colpali-ingest")

    @Test func ingestSearchExplainListDelete() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = ["DATABASE_URL": TestPostgres.url(of: settings), "COLPALI_MODEL": Fixtures.model("hf-fp32").path,
                           "HF_HUB_OFFLINE": "1", "COLPALI_MIGRATIONS_DIR": RepositoryPaths.migrations.path]
        func run(_ binary: URL, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
            try await ChildProcess.run(binary, arguments, environment: environment)
        }
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        let added = try await run(ingest, ["add", "--store-images", "png", "--dpi", "72", sample])
        #expect(added.status == 0, "\(added.error)")
        #expect(added.output.contains("4 pages"))

        let json = try await run(colpali, ["search", "revenue by quarter", "--json", "--explain", "--exact"])
        let hits = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(hits.count == 4)
        // Every page once, ranked by descending score.
        #expect(Set(hits.compactMap { $0["page"] as? Int }) == [1, 2, 3, 4])
        let scores = hits.compactMap { $0["score"] as? Double }
        #expect(scores.count == 4 && scores == scores.sorted(by: >))
        #expect(json.error.contains("ORDER BY score DESC") && json.error.contains("-- parameters:"))
        let pageID = try #require(hits.first?["page_id"] as? Int)

        // The table shows the same ranking: its rows name the same pages, in order.
        let table = try await run(colpali, ["search", "revenue by quarter", "--limit", "3"])
        #expect(table.status == 0, "\(table.error)")
        let lines = table.output.split(separator: "\n")
        #expect(lines.count == 4 && lines[0].contains("rank"))
        for (line, hit) in zip(lines.dropFirst(), hits) {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(columns.contains(String(hit["page_id"] as? Int ?? -1)), "\(line)")
        }

        let map = FileManager.default.temporaryDirectory.appendingPathComponent("colpali-map-\(UUID().uuidString).png")
        let explained = try await run(colpali, ["explain", "revenue by quarter", "--page", "\(pageID)", "--out", map.path])
        #expect(explained.status == 0, "\(explained.error)")
        // A heat map drawn over the stored page: the page's size, not its pixels.
        let drawn = try RGBImage.decode(try Data(contentsOf: map))
        let stored = try await Database.withConnection(settings, logger: TestPostgres.logger) { c in
            try await c.query("SELECT image FROM pages WHERE id = \(pageID)", logger: TestPostgres.logger).collect().first!.decode(Data.self)
        }
        let page = try RGBImage.decode(stored)
        #expect(drawn.width == page.width && drawn.height == page.height)
        let changed = zip(drawn.pixels, page.pixels).filter { $0 != $1 }.count
        #expect(changed > page.pixels.count / 4, "the map left \(changed) of \(page.pixels.count) values unchanged")

        // Hostile or careless arguments: one line each, nothing changed.
        for (arguments, text) in [
            (["search", "revenue", "--limit", "9223372036854775807"], "--limit must be between 1 and 1000"),
            (["search", "revenue", "--candidates=-1"], "--candidates must be between 1 and 100000"),
            (["search", String(repeating: "revenue ", count: 400)], "at most 256 tokens"),
            (["search", String(repeating: "x", count: 100_000)], "100000 characters long"),
            (["documents", "list", "--limit=-5"], "limit -5 is outside 1...10000"),
            (["explain", "revenue", "--page", "\(pageID)", "--out", "/nonexistent-dir/map.png"],
             "cannot write /nonexistent-dir/map.png: no such directory"),
        ] {
            let result = try await run(colpali, arguments)
            #expect(result.status == 1 || result.status == 64, "\(arguments.prefix(3))")
            #expect(result.error.split(separator: "\n").count == 1 && result.error.contains(text), "\(result.error.prefix(300))")
            #expect(!result.error.contains("PSQLError") && !result.error.contains("NSCocoaErrorDomain"))
        }

        let listed = try await run(colpali, ["documents", "list"])
        #expect(listed.output.contains("ready") && listed.output.contains("annual-report.pdf"))
        let documentID = try #require(hits.first?["document_id"] as? Int)
        #expect(try await run(colpali, ["documents", "delete", "\(documentID)"]).status == 0)
        let gone = try await run(colpali, ["search", "revenue"])
        #expect(gone.status != 0 && gone.error.contains("no searchable pages"))
    }

    @Test func searchErrorsAreOneLine() async throws {
        let environment = ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "HF_HUB_OFFLINE": "1",
                           "COLPALI_MODEL": Fixtures.model("hf-fp32").path]
        for (arguments, text) in [(["search", ""], "empty"), (["search", "x"], "cannot reach the database"),
                                  (["search", "x", "--limit", "0"], "--limit")] {
            let result = try await ChildProcess.run(colpali, arguments, environment: environment)
            #expect(result.status != 0)
            #expect(result.error.split(separator: "\n").count == 1 && result.error.contains(text), "\(result.error)")
        }
    }
}
