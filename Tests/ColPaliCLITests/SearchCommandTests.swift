import Foundation
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

        let table = try await run(colpali, ["search", "revenue by quarter", "--limit", "3"])
        #expect(table.status == 0, "\(table.error)")
        let lines = table.output.split(separator: "\n")
        #expect(lines.count == 4 && lines[0].contains("rank") && lines[1].contains("Northwind Robotics Annual Report 2025"))

        let json = try await run(colpali, ["search", "revenue by quarter", "--json", "--explain", "--exact"])
        let hits = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(hits.count == 4)
        #expect(json.error.contains("ORDER BY score DESC") && json.error.contains("-- parameters:"))
        let pageID = try #require(hits.first?["page_id"] as? Int)

        let map = FileManager.default.temporaryDirectory.appendingPathComponent("colpali-map-\(UUID().uuidString).png")
        let explained = try await run(colpali, ["explain", "revenue by quarter", "--page", "\(pageID)", "--out", map.path])
        #expect(explained.status == 0, "\(explained.error)")
        let png = try Data(contentsOf: map)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))

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
