import Foundation
import Testing
import TestSupport

/// The `colpali` binary as users run it: clear one-line errors, exit codes,
/// and the local database lifecycle.
@Suite(.serialized) struct CommandLineTests {
    let colpali = RepositoryPaths.executable("colpali")
    let environment = ["COLPALI_MIGRATIONS_DIR": RepositoryPaths.migrations.path, "DATABASE_URL": ""]

    func run(_ arguments: [String], in directory: URL? = nil, extra: [String: String] = [:]) async throws
        -> (status: Int32, output: String, error: String) {
        try await ChildProcess.run(colpali, arguments, environment: environment.merging(extra) { $1 },
                                   currentDirectory: directory)
    }

    func expectOneLineError(_ result: (status: Int32, output: String, error: String), containing text: String) {
        #expect(result.status != 0)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.error)")
        #expect(result.error.hasPrefix("colpali: "))
        #expect(result.error.contains(text), "stderr: \(result.error)")
        #expect(!result.error.contains("Fatal error"))
    }

    /// The exit codes the README documents: 0 success, 1 failure, 64 usage
    /// error, 3 from `db status` when the local database is not running.
    @Test func exitCodesSayWhatKindOfFailureItWas() async throws {
        #expect(try await run(["frobnicate"]).status == 64)
        #expect(try await run(["search", "x", "--limit", "0"]).status == 64)
        #expect(try await run(["documents", "list", "--database-url", "postgresql://nobody@127.0.0.1:1/none"]).status == 1)
        let project = try RepositoryPaths.temporaryDirectory("colpali-codes")
        defer { try? FileManager.default.removeItem(at: project) }
        if TestPostgres.isAvailable {  // without the server programs it cannot tell
            #expect(try await run(["db", "status", "--data-dir", project.appendingPathComponent(".colpali").path]).status == 3)
        }
        #expect(try await run(["--help"]).status == 0)
    }

    @Test func unknownSubcommandAndFlag() async throws {
        expectOneLineError(try await run(["frobnicate"]), containing: "frobnicate")
        expectOneLineError(try await run(["db", "start", "--no-such-flag"]), containing: "--no-such-flag")
        expectOneLineError(try await run(["migrate", "--database-url"]), containing: "database-url")
    }

    @Test func unreachableDatabaseURL() async throws {
        let refused = try await run(["migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
        expectOneLineError(refused, containing: "cannot reach the database at postgresql://nobody@127.0.0.1:1/none")
        let fromEnvironment = try await run(["migrate"], extra: ["DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/x"])
        expectOneLineError(fromEnvironment, containing: "connection refused")
        #expect(!fromEnvironment.error.contains("secret"))
        expectOneLineError(try await run(["migrate", "--database-url", "mysql://x"]), containing: "invalid database URL")
    }

    /// `distribute` on a server without Citus changes nothing and says where
    /// to point it; `--print-sql` needs no server at all.
    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func distributeNeedsACitusCoordinator() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let refused = try await run(["distribute", "--database-url", TestPostgres.url(of: settings)])
        expectOneLineError(refused, containing: "this database has no citus extension: distributing needs a Citus coordinator")
        #expect(refused.status == 1 && refused.error.contains("docs/scale-out.md"))
        let local = try await run(["distribute", "--data-dir", try RepositoryPaths.temporaryDirectory("colpali-distribute").path])
        expectOneLineError(local, containing: "no citus extension")
        let sql = try await run(["distribute", "--print-sql", "--shard-count", "16"])
        #expect(sql.status == 0 && sql.output.hasPrefix("-- colpali distribute") && sql.output.hasSuffix("COMMIT;\n"))
        #expect(sql.output.contains("create_distributed_table('documents', 'id', shard_count => 16)"))
        expectOneLineError(try await run(["distribute", "--shard-count", "0"]), containing: "--shard-count must be between 1 and 1024")
    }

    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func localDatabaseLifecycle() async throws {
        let project = try RepositoryPaths.temporaryDirectory("colpali-cli")
        defer {
            _ = try? FileManager.default.removeItem(at: project)
        }
        let dataDir = ["--data-dir", project.appendingPathComponent(".colpali").path]
        let notYet = try await run(["db", "status"] + dataDir)
        #expect(notYet.status == 3)
        let started = try await run(["db", "start"] + dataDir)
        #expect(started.status == 0, "\(started.error)")
        #expect(started.output.contains("local database started"))
        let again = try await run(["db", "start"] + dataDir)
        #expect(again.status == 0)
        #expect(again.output.contains("already running"))
        let url = try await run(["db", "url"] + dataDir).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("postgresql:///colpali?host="))
        let migrate = try await run(["migrate", "--database-url", url])
        #expect(migrate.status == 0)
        #expect(migrate.output.contains("schema is current"))
        let status = try await run(["migrate", "--status"] + dataDir)
        #expect(status.output.contains("applied  0001_core.sql"))
        let stopped = try await run(["db", "stop"] + dataDir)
        #expect(stopped.output.contains("local database stopped"))
        #expect(try await run(["db", "status"] + dataDir).status == 3)
        #expect(try await run(["db", "stop"] + dataDir).output.contains("was not running"))
        // Nothing of this cluster is left running.
        let leftovers = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", project.path])
        #expect(leftovers.output.isEmpty)
    }

    /// One local database per user, found from any directory; read-only
    /// commands never create or start one; creating one is announced.
    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func theLocalDatabaseIsPerUserAndOnlyWritersStartIt() async throws {
        let home = try RepositoryPaths.temporaryDirectory("colpali-home")
        let elsewhere = try RepositoryPaths.temporaryDirectory("colpali-cwd")
        chmod(home.path, 0o755)
        let user = ["HOME": home.path, "XDG_DATA_HOME": "", "COLPALI_DATA_DIR": ""]
        let store = home.appendingPathComponent(".local/share/colpali")
        defer {
            _ = try? FileManager.default.removeItem(at: elsewhere)
        }
        // Reading an absent database: an error naming where it looked, and nothing created.
        let absent = try await run(["documents", "list"], in: elsewhere, extra: user)
        expectOneLineError(absent, containing: "there is no local database in \(store.path) yet")
        #expect(!FileManager.default.fileExists(atPath: store.appendingPathComponent("pg").path))
        // A writer creates it and says so.
        let migrated = try await run(["migrate"], in: elsewhere, extra: user)
        #expect(migrated.status == 0, "\(migrated.error)")
        #expect(migrated.error.contains("colpali: created a new local database in \(store.path)"), "\(migrated.error)")
        // The same database from another directory.
        let listed = try await run(["documents", "list"], in: home, extra: user)
        #expect(listed.status == 0, "\(listed.error)")
        // Stopped: read-only commands leave it stopped.
        #expect(try await run(["db", "stop"], extra: user).status == 0)
        let stopped = try await run(["documents", "list"], in: elsewhere, extra: user)
        expectOneLineError(stopped, containing: "the local database in \(store.path) is not running: start it with `colpali db start`")
        #expect(try await run(["db", "status"], extra: user).status == 3)
        // A writer starts it again and says so.
        let restarted = try await run(["migrate"], extra: user)
        #expect(restarted.error.contains("colpali: started the local database in \(store.path)"), "\(restarted.error)")
        #expect(try await run(["db", "stop"], extra: user).status == 0)
        let leftovers = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", home.path])
        #expect(leftovers.output.isEmpty)
    }

    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func databaseWithoutTheExtensionIsExplained() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        let url = TestPostgres.url(of: settings)
        expectOneLineError(try await run(["documents", "list", "--database-url", url]),
                           containing: "does not have the colpali extension: run `colpali migrate`")
        let status = try await run(["migrate", "--status", "--database-url", url])
        #expect(status.status == 0)
        #expect(status.output.contains("pending  0001_core.sql"))
        // After migrate, the same command works.
        #expect(try await run(["migrate", "--database-url", url]).status == 0)
        #expect(try await run(["documents", "list", "--database-url", url]).status == 0)
    }
}
