import ColPaliModel
import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The README's flow through the binaries: ingest the sample, search, explain, list, delete.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct SearchCommandTests {
    let colpali = RepositoryPaths.executable("colpali")
    let ingest = RepositoryPaths.executable("colpali-ingest")

    @Test func ingestSearchExplainListDelete() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = Fixtures.commandEnvironment(settings)
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
        let explained = try await run(colpali, ["explain", "revenue by quarter", "--page-id", "\(pageID)", "--out", map.path])
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
            (["documents", "list", "--limit=-5"], "--limit must be between 1 and 10000"),
            (["explain", "revenue", "--page-id", "\(pageID)", "-o", "/nonexistent-dir/map.png"],
             "cannot write /nonexistent-dir/map.png: no such directory"),
        ] {
            let result = try await run(colpali, arguments)
            #expect(result.status == 1 || result.status == 64, "\(arguments.prefix(3))")
            #expect(result.error.split(separator: "\n").count == 1 && result.error.contains(text), "\(result.error.prefix(300))")
            #expect(!result.error.contains("PSQLError") && !result.error.contains("NSCocoaErrorDomain"))
        }

        // Filters on the command line: a path for --source, dates for --after/--before.
        let sampleDirectory = RepositoryPaths.root.appendingPathComponent("samples").path + "/"
        for (arguments, expected) in [(["--source", sampleDirectory], 4), (["--source", "/nonexistent/"], 0),
                                      (["--after", "2000-01-01"], 4), (["--before", "2000-01-01T00:00:00Z"], 0)] {
            let filtered = try await run(colpali, ["search", "revenue", "--json"] + arguments)
            #expect(filtered.status == 0, "\(arguments): \(filtered.error)")
            let found = (try? JSONSerialization.jsonObject(with: Data(filtered.output.utf8)) as? [[String: Any]])?.count
            #expect(found == expected, "\(arguments): \(filtered.output.prefix(200))")
        }
        let badDate = try await run(colpali, ["search", "revenue", "--after", "yesterday"])
        #expect(badDate.status == 64 && badDate.error.contains("--after 'yesterday' is not a date"))
        // Logging: COLPALI_LOG_LEVEL works without -v, and -v shows queries, not connection housekeeping.
        let logged = try await ChildProcess.run(colpali, ["search", "revenue", "--limit", "1"],
                                                environment: environment.merging(["COLPALI_LOG_LEVEL": "debug"]) { $1 })
        #expect(logged.error.contains("sql="), "\(logged.error.prefix(500))")
        let verbose = try await run(colpali, ["search", "revenue", "--limit", "1", "-v"])
        #expect(verbose.error.contains("sql=") && !verbose.error.contains("psql_connection_id"), "\(verbose.error.prefix(800))")
        #expect(try await run(colpali, ["--version"]).output.trimmingCharacters(in: .whitespacesAndNewlines) == ColPaliVersion.string)
        let listedJSON = try await run(colpali, ["documents", "list", "--json"])
        let documentsJSON = try #require(try JSONSerialization.jsonObject(with: Data(listedJSON.output.utf8)) as? [[String: Any]])
        #expect(documentsJSON.count == 1 && documentsJSON.first?["status"] as? String == "ready"
                && (documentsJSON.first?["source_uri"] as? String)?.hasSuffix("annual-report.pdf") == true, "\(listedJSON.output)")

        let listed = try await run(colpali, ["documents", "list"])
        #expect(listed.output.contains("ready") && listed.output.contains("annual-report.pdf"))
        let documentID = try #require(hits.first?["document_id"] as? Int)
        #expect(try await run(colpali, ["documents", "delete", "\(documentID)"]).status == 0)
        let gone = try await run(colpali, ["search", "revenue"])
        #expect(gone.status != 0 && gone.error.contains("no searchable pages"))
    }

    /// The README's "In SQL" shell block, run exactly as printed (with the
    /// binaries on PATH, as the README says) against a local database holding
    /// the sample.
    @Test func readmeSQLRunsAsPrinted() async throws {
        let readme = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## In SQL").dropFirst().first)
        let block = try #require(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        let work = try RepositoryPaths.temporaryDirectory("colpali-readme-sql")
        chmod(work.path, 0o755)
        let psqlrc = work.appendingPathComponent("psqlrc")
        try "\\set ON_ERROR_STOP 1\n".write(to: psqlrc, atomically: true, encoding: .utf8)
        let binaries = colpali.deletingLastPathComponent().path
        let environment = ["COLPALI_DATA_DIR": work.appendingPathComponent("db").path, "DATABASE_URL": "",
                           "COLPALI_MODEL": Fixtures.model("hf-fp32").path, "HF_HUB_OFFLINE": "1", "PSQLRC": psqlrc.path,
                           "COLPALI_MIGRATIONS_DIR": RepositoryPaths.migrations.path,
                           "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        let added = try await ChildProcess.run(ingest, ["add", "--dpi", "72", sample], environment: environment)
        #expect(added.status == 0, "\(added.error)")
        let script = work.appendingPathComponent("readme.sh")
        try ("set -euo pipefail\n" + block).write(to: script, atomically: true, encoding: .utf8)
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/bin/bash"), [script.path], environment: environment,
                                                currentDirectory: work)
        _ = try await ChildProcess.run(colpali, ["db", "stop"], environment: environment)
        #expect(result.status == 0, "\(result.error)")
        // All three queries answered: the first lists the document by title, the
        // prefilter's and the index statement's (here an exact scan: no index) by page id.
        #expect(result.output.contains("Northwind Robotics Annual Report 2025"), "\(result.output)")
        #expect(result.output.components(separatedBy: "(4 rows)").count - 1 == 3, "\(result.output)")
    }

    /// Without stored images the map is drawn over the page rendered again
    /// from its source, and the command says so; a changed source is refused.
    @Test func explainRendersFromTheSourceWhenNoImageWasStored() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = Fixtures.commandEnvironment(settings)
        let directory = try RepositoryPaths.temporaryDirectory("colpali-explain-source")
        let pdf = try TestPDF.write(TestPDF.make(pages: [.init(), .init(width: 300, height: 200)], seed: 5), named: "two.pdf", in: directory)
        #expect(try await ChildProcess.run(ingest, ["add", "--dpi", "100", pdf], environment: environment).status == 0)
        let map = directory.appendingPathComponent("map.png").path
        let explained = try await ChildProcess.run(colpali, ["explain", "shapes", "--document", "1", "--page", "2", "-o", map],
                                                   environment: environment)
        #expect(explained.status == 0, "\(explained.error)")
        #expect(explained.error.contains("drawn over page 2 rendered from \(pdf)"), "\(explained.error)")
        let drawn = try RGBImage.decode(Data(contentsOf: URL(fileURLWithPath: map)))
        // The size the model saw: 300 x 200 points at 100 dpi.
        #expect(drawn.width == 417 && drawn.height == 278, "\(drawn.width) x \(drawn.height)")
        // The page number alone is ambiguous: a usage error says what to add.
        let ambiguous = try await ChildProcess.run(colpali, ["explain", "shapes", "--page", "2", "-o", map], environment: environment)
        #expect(ambiguous.status == 64 && ambiguous.error.contains("add --document ID, or use --page-id"))
        // The source changed since: refused, with the way to keep images.
        try TestPDF.make(pages: [.init()], seed: 6).write(to: URL(fileURLWithPath: pdf))
        let changed = try await ChildProcess.run(colpali, ["explain", "shapes", "--document", "1", "--page", "1", "-o", map],
                                                 environment: environment)
        #expect(changed.status == 1 && changed.error.contains("changed since it was ingested"), "\(changed.error)")
    }

    /// Collections and tenants as a user names them on the command line.
    @Test func collectionsAndTenantsFromTheCommandLine() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = Fixtures.commandEnvironment(settings)
        func run(_ binary: URL, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
            try await ChildProcess.run(binary, arguments, environment: environment)
        }
        func json(_ arguments: [String]) async throws -> [[String: Any]] {
            let result = try await run(colpali, arguments + ["--json"])
            #expect(result.status == 0, "\(arguments): \(result.error)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        }
        let directory = try RepositoryPaths.temporaryDirectory("colpali-collections-cli")
        let a = try TestPDF.write(TestPDF.make(pages: [.init(), .init()], seed: 11), named: "a.pdf", in: directory)
        let b = try TestPDF.write(TestPDF.make(pages: [.init()], seed: 12), named: "b.pdf", in: directory)
        for arguments in [["--collection", "reports", "--tenant", "acme", a], ["--collection", "reports", "--tenant", "globex", b], [a]] {
            let added = try await run(ingest, ["add", "--dpi", "50"] + arguments)
            #expect(added.status == 0 && added.output.contains("stored"), "\(arguments): \(added.error)")
        }
        #expect(try await json(["search", "shapes", "--collection", "reports", "--limit", "10"]).count == 3)
        let acme = try await json(["search", "shapes", "--collection", "reports", "--tenant", "acme", "--limit", "10"])
        #expect(acme.count == 2 && acme.allSatisfy { ($0["source_uri"] as? String)?.hasSuffix("a.pdf") == true }, "\(acme)")
        #expect(try await json(["search", "shapes", "--limit", "10"]).count == 2)
        let collections = try await json(["collections", "list"])
        #expect(collections.map { "\($0["name"] ?? "") \($0["documents"] ?? "") \($0["pages"] ?? "")" } == ["default 1 2", "reports 2 3"])
        let listed = try await json(["documents", "list", "--collection", "reports", "--tenant", "globex"])
        #expect(listed.count == 1 && listed.first?["tenant"] as? String == "globex", "\(listed)")

        // Careless names: one line each, nothing changed.
        let missing = try await run(colpali, ["search", "shapes", "--collection", "nope"])
        #expect(missing.status == 1 && missing.error.split(separator: "\n").count == 1 && missing.error.contains("no collection 'nope'"),
                "\(missing.error)")
        let badName = try await run(ingest, ["add", "--collection", "../etc", a])
        #expect(badName.status != 0 && badName.error.contains("not a collection name"), "\(badName.error)")
        let unconfirmed = try await run(colpali, ["collections", "delete", "reports"])
        #expect(unconfirmed.status == 64 && unconfirmed.error.contains("--yes"), "\(unconfirmed.error)")
        #expect(try await json(["collections", "list"]).count == 2)

        let deleted = try await run(colpali, ["collections", "delete", "reports", "--yes"])
        #expect(deleted.status == 0 && deleted.output.contains("deleted collection reports"), "\(deleted.error)")
        let left = try await Database.withConnection(settings, logger: TestPostgres.logger) { c in
            try await c.query("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM pages)", logger: TestPostgres.logger)
                .collect().first!.decode(Int.self)
        }
        #expect(left == 3)
        #expect(try await run(colpali, ["collections", "delete", "reports", "--yes"]).status == 1)
    }

    /// Query vectors from a file search like the question they came from;
    /// the candidate index is built, shown, used and dropped from the CLI.
    @Test func queryEmbeddingsAndTheCandidateIndexFromTheCommandLine() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = Fixtures.commandEnvironment(settings)
        func run(_ binary: URL, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
            try await ChildProcess.run(binary, arguments, environment: environment)
        }
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        #expect(try await run(ingest, ["add", "--dpi", "72", sample]).status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("colpali-query-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: file) }
        let embedded = try await run(colpali, ["embed", "--query", "revenue by quarter", "--format", "npy", "--output", file.path])
        #expect(embedded.status == 0, "\(embedded.error)")

        func hits(_ json: String) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        }
        let byQuestion = try hits(try await run(colpali, ["search", "revenue by quarter", "--json"]).output)
        let lines = try await run(colpali, ["search", "--query-embeddings", file.path, "--json"])
        #expect(lines.status == 0, "\(lines.error)")
        let line = try #require(try JSONSerialization.jsonObject(with: Data(lines.output.utf8)) as? [String: Any])
        let fromFile = try #require(line["hits"] as? [[String: Any]])
        #expect(line["query"] as? Int == 0 && (line["timings_ms"] as? [String: Double])?["total"] != nil)
        #expect(fromFile.compactMap { $0["page_id"] as? Int } == byQuestion.compactMap { $0["page_id"] as? Int })
        #expect(fromFile.compactMap { $0["score"] as? Double } == byQuestion.compactMap { $0["score"] as? Double })
        #expect(fromFile.first?.keys.sorted() == ["document_id", "page_id", "page_number", "score", "source_uri"])

        let created = try await run(colpali, ["index", "create", "--lists", "4"])
        #expect(created.status == 0 && created.output.contains("pages_embedding_ivf: 4 lists"), "\(created.output) \(created.error)")
        let status = try await run(colpali, ["index", "status", "--json"])
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
        #expect(shown["lists"] as? Int == 4 && shown["valid"] as? Bool == true)
        let indexed = try await run(colpali, ["search", "--query-embeddings", file.path, "--json", "--probes", "2", "--candidates", "4"])
        #expect(indexed.status == 0, "\(indexed.error)")
        let indexedLine = try #require(try JSONSerialization.jsonObject(with: Data(indexed.output.utf8)) as? [String: Any])
        // Four pages, all candidates: the same ranking and scores as without the index.
        #expect((indexedLine["hits"] as? [[String: Any]])?.compactMap { $0["score"] as? Double }
                == byQuestion.compactMap { $0["score"] as? Double })
        #expect(try await run(colpali, ["index", "drop"]).output.contains("dropped"))
        #expect(try await run(colpali, ["index", "status"]).output.contains("no candidate index"))

        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("colpali-garbage-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: garbage) }
        try Data("not an array".utf8).write(to: garbage)
        // Larger than any array the reader takes: refused by its size before
        // a byte is read (sparse, so it costs no disk).
        let huge = FileManager.default.temporaryDirectory.appendingPathComponent("colpali-huge-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: huge) }
        #expect(FileManager.default.createFile(atPath: huge.path, contents: nil))
        let handle = try FileHandle(forWritingTo: huge)
        try handle.truncate(atOffset: UInt64(NumpyArray.maximumValues) * 8 + 65_537)
        try handle.close()
        for (arguments, text) in [
            (["search", "--query-embeddings", garbage.path], "not a NumPy .npy file"),
            (["search", "--query-embeddings", huge.path], "more than an array of"),
            (["search", "x", "--query-embeddings", file.path], "not both"),
            (["search"], "give a question, or --query-embeddings"),
            (["search", "--query-embeddings", file.path, "--probes", "3"], "probes apply to a colpali_ivf index"),
            (["index", "create", "--lists", "0"], "--lists must be between 1 and 65536"),
        ] {
            let result = try await run(colpali, arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.error.split(separator: "\n").count <= 2 && result.error.contains(text), "\(arguments): \(result.error)")
        }
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
        // A matrix kernel that does not exist, or that this CPU cannot run, is named, not ignored.
        for (kernel, text) in [("avx9000", "'avx9000' is not a matrix kernel"), ("amx-emulated", "is not a matrix kernel")]
            + (Precision.bf16KernelProblem("amx") == nil ? [] : [("amx", "cannot run the 'amx' matrix kernel")]) {
            var withKernel = environment
            withKernel["COLPALI_GEMM"] = kernel
            let result = try await ChildProcess.run(colpali, ["search", "x"], environment: withKernel)
            #expect(result.status != 0)
            #expect(result.error.split(separator: "\n").count == 1 && result.error.contains(text), "\(result.error)")
        }
    }
}
