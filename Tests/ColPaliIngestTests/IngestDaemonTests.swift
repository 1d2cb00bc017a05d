import ColPaliStorage
import Crypto
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// `colpali-ingest` as users run it: one-shot add, and daemons on a queue.
/// Every test checks that the event it is named after happened (a claim, a
/// kill inside the store transaction, a takeover), not only the end state.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct IngestDaemonTests {
    let binary = RepositoryPaths.executable("colpali-ingest")
    let logger = TestPostgres.logger

    func query<T: Sendable>(_ settings: ConnectionSettings, _ sql: PostgresQuery, as type: T.Type) async throws -> [T]
    where T: PostgresDecodable {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(sql, logger: logger).collect().map { try $0.decode(T.self) }
        }
    }

    func query(_ settings: ConnectionSettings, _ sql: PostgresQuery, as type: (String, String).Type) async throws -> [(String, String)] {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(sql, logger: logger).collect().map { try $0.decode((String, String).self) }
        }
    }

    func pdfs(_ count: Int, pages: Int, in directory: URL) throws -> [String] {
        try (0..<count).map { i in
            try TestPDF.write(TestPDF.make(pages: Array(repeating: .init(), count: pages), seed: 100 + i), named: "doc\(i).pdf", in: directory)
        }
    }

    func enqueue(_ paths: [String], _ settings: ConnectionSettings, options: String = #"{"dpi": 60}"#) async throws {
        try await Database.withConnection(settings, logger: logger) { c in
            for path in paths {
                // Plain SQL, as any application may enqueue.
                _ = try await c.query("INSERT INTO ingest_jobs (source_uri, options) VALUES (\(path), \(options)::jsonb)", logger: logger)
            }
        }
    }

    /// A daemon allowed to read `directory`.
    func daemon(_ settings: ConnectionSettings, reading directory: URL, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(binary, ["run", "--allow-root", directory.path] + arguments, environment: IngestFixtures.environment(settings))
    }

    func waitUntil(_ timeout: Double = 120, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Runs `body` while `daemon`'s store waits on its first page INSERT,
    /// held there by a SHARE lock on `pages` that is released afterwards.
    /// `terminating` ends the waiting session (as a restart or an
    /// administrator would) instead of only finding it.
    func whileTheStoreWaits(_ settings: ConnectionSettings, for daemon: ChildProcess, terminating: Bool = false,
                            _ body: @Sendable () async throws -> Void = {}) async throws {
        let found: PostgresQuery = terminating ? """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO pages%'
            """ : """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO pages%'
            """
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.withTransaction(logger: logger) { t in
                _ = try await t.query("LOCK TABLE pages IN SHARE MODE", logger: logger)
                let waiting = try await waitUntil(60) { try await query(settings, found, as: Int.self) == [1] }
                #expect(waiting, "the daemon never reached the store: \(daemon.standardError.suffix(1500))")
                try await body()
            }
        }
    }

    func jobs(_ settings: ConnectionSettings, status: String) async throws -> Int {
        try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = \(status)", as: Int.self)[0]
    }

    /// Every visible document is complete, and nothing is half written.
    func expectConsistent(_ settings: ConnectionSettings) async throws {
        let partial = try await query(settings, """
            SELECT count(*) FROM documents d
            WHERE d.status = 'ready' AND d.page_count <> (SELECT count(*) FROM pages p WHERE p.document_id = d.id)
            """, as: Int.self)
        #expect(partial == [0])
        let orphans = try await query(settings, "SELECT count(*) FROM documents WHERE status NOT IN ('ready', 'failed')", as: Int.self)
        #expect(orphans == [0])
    }

    @Test func addStoresGoodFilesReportsBadOnesOnOneLineAndExitsNonZero() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-add")
        _ = try pdfs(2, pages: 2, in: directory)
        try Data("not a pdf".utf8).write(to: directory.appendingPathComponent("broken.pdf"))
        let result = try await ChildProcess.run(binary, ["add", "--dpi", "60", directory.path], environment: IngestFixtures.environment(settings))
        #expect(result.status == 1)
        #expect(result.output.contains("stored \(directory.path)/doc0.pdf: document"))
        #expect(result.output.contains("stored \(directory.path)/doc1.pdf: document"))
        // One line for the failed file, one for the summary: nothing else.
        let lines = result.error.split(separator: "\n")
        #expect(lines == ["colpali-ingest: failed \(directory.path)/broken.pdf: not a PDF file (no %PDF header)",
                          "colpali-ingest: 1 of 3 documents failed"], "\(result.error)")
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE status = 'ready'", as: Int.self) == [2])
        // Again: skipped, success.
        let again = try await ChildProcess.run(binary, ["add", directory.appendingPathComponent("doc1.pdf").path],
                                               environment: IngestFixtures.environment(settings))
        #expect(again.status == 0)
        #expect(again.output.contains("skipped \(directory.path)/doc1.pdf: every selected page is already stored as document"), "\(again.output)")
        // --queue only queues, with the flags as the job's options.
        let queued = try await ChildProcess.run(binary, ["add", "--queue", "--force", directory.appendingPathComponent("doc1.pdf").path],
                                                environment: IngestFixtures.environment(settings))
        #expect(queued.status == 0, "\(queued.error)")
        #expect(try await query(settings, "SELECT options->>'force' FROM ingest_jobs WHERE status = 'queued'", as: String.self) == ["true"])
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [3])
    }

    /// Two `add` runs of the same content at once: one stores it, the other
    /// finds it stored; neither fails (no row exists to lock beforehand).
    @Test func concurrentAddsOfTheSameContentStoreItOnce() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-same")
        let original = try pdfs(1, pages: 4, in: directory)[0]
        let copy = directory.appendingPathComponent("copy.pdf").path
        try FileManager.default.copyItem(atPath: original, toPath: copy)
        let environment = IngestFixtures.environment(settings)
        async let first = ChildProcess.run(binary, ["add", "--dpi", "60", original], environment: environment)
        async let second = ChildProcess.run(binary, ["add", "--dpi", "60", copy], environment: environment)
        let results = try await [first, second]
        #expect(results.map(\.status) == [0, 0], "\(results.map(\.error)) \(results.map(\.output))")
        let lines = results.flatMap { $0.output.split(separator: "\n") }
        #expect(lines.filter { $0.hasPrefix("stored ") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("skipped ") }.count == 1, "\(lines)")
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [1])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [4])
    }

    /// Woken by NOTIFY: it polls only every 30 s, and the jobs arrive after
    /// its first (empty) poll, once it listens.
    @Test func daemonWakesOnInsertAndProcessesTheQueue() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-run")
        let daemon = try daemon(settings, reading: directory, ["--poll-interval", "30"])
        let listening = try await waitUntil(30) {
            try await query(settings, """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %colpali_ingest%'
                """, as: Int.self) == [1]
        }
        #expect(listening, "the daemon never listened: \(daemon.standardError.suffix(1000))")
        #expect(daemon.standardError.contains("ingest daemon started"))
        try await Task.sleep(for: .seconds(1))
        let enqueued = Date()
        try await enqueue(try pdfs(3, pages: 2, in: directory) + [directory.appendingPathComponent("absent.pdf").path], settings)
        let done = try await waitUntil(25) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status IN ('done', 'failed')", as: Int.self) == [4]
        }
        #expect(done, "jobs not processed: \(daemon.standardError.suffix(2000))")
        #expect(Date().timeIntervalSince(enqueued) < 25, "only the 30 s poll found the jobs")
        #expect(try await query(settings, "SELECT error FROM ingest_jobs WHERE status = 'failed'", as: String.self)
            == ["cannot read \(directory.path)/absent.pdf: no such file"])
        #expect(try await jobs(settings, status: "done") == 3)
        // A job names its collection and tenant; one naming a bad collection fails saying so.
        let more = [try TestPDF.write(TestPDF.make(pages: [.init()], seed: 77), named: "more.pdf", in: directory)]
        try await enqueue(more, settings, options: #"{"dpi": 60, "collection": "manuals", "tenant": "acme"}"#)
        try await enqueue(more, settings, options: #"{"collection": "no such/collection"}"#)
        #expect(try await waitUntil(25) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status IN ('done', 'failed')", as: Int.self) == [6]
        }, "\(daemon.standardError.suffix(2000))")
        #expect(try await query(settings, """
            SELECT c.name || ' ' || d.tenant || ' ' || d.page_count FROM documents d JOIN collections c ON c.id = d.collection_id
            WHERE c.name <> 'default'
            """, as: String.self) == ["manuals acme 1"])
        #expect(try await query(settings, "SELECT error FROM ingest_jobs WHERE status = 'failed' ORDER BY id", as: String.self).last?
            .contains("collection 'no such/collection' is not a collection name") == true)
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        try await expectConsistent(settings)
    }

    /// The queue is open to anyone who may INSERT: the daemon reads only
    /// under its roots, resolves `..` and links first, and records nothing
    /// about a refused file but the refusal.
    @Test func daemonReadsOnlyUnderItsRoots() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let inbox = try RepositoryPaths.temporaryDirectory("colpali-inbox")
        let elsewhere = try RepositoryPaths.temporaryDirectory("colpali-private")
        let allowed = try pdfs(1, pages: 1, in: inbox)[0]
        let secretData = TestPDF.make(pages: [.init()], seed: 999)
        let secret = try TestPDF.write(secretData, named: "secret.pdf", in: elsewhere)
        chmod(secret, 0o600)
        let link = inbox.appendingPathComponent("link.pdf").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: secret)
        let dotdot = inbox.path + "/../" + elsewhere.lastPathComponent + "/secret.pdf"
        let missingOutside = elsewhere.appendingPathComponent("nothing.pdf").path
        try await enqueue([allowed, secret, link, dotdot, "/etc/passwd", missingOutside, "relative/x.pdf"], settings,
                          options: #"{"dpi": 60, "store_images": "png"}"#)
        let daemon = try daemon(settings, reading: inbox, ["--poll-interval", "0.5"])
        let finished = try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status IN ('done', 'failed')", as: Int.self) == [7]
        }
        #expect(finished, "\(daemon.standardError.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        let statuses = try await query(settings, "SELECT status FROM ingest_jobs ORDER BY id", as: String.self)
        #expect(statuses == ["done"] + Array(repeating: "failed", count: 6))
        let refusals = try await query(settings, "SELECT source_uri, error FROM ingest_jobs WHERE status = 'failed' ORDER BY id",
                                       as: (String, String).self)
        for (uri, error) in refusals {
            #expect(error.hasPrefix("refused \(uri): it is outside the directories this daemon may read"), "\(uri): \(error)")
        }
        // Nothing but the allowed file reached the documents: no hash, no image.
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [1])
        let secretHash = Data(SHA256.hash(data: secretData))
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE content_hash = \(secretHash)", as: Int.self) == [0])
        #expect(try await query(settings, "SELECT count(*) FROM pages WHERE image IS NOT NULL", as: Int.self) == [1])
    }

    @Test func daemonWithoutRootsRefusesEveryQueuedFile() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-noroot")
        try await enqueue(try pdfs(1, pages: 1, in: directory), settings)
        let daemon = try ChildProcess(binary, ["run", "--poll-interval", "0.5"], environment: IngestFixtures.environment(settings))
        #expect(try await waitUntil(60) { try await jobs(settings, status: "failed") == 1 }, "\(daemon.standardError.suffix(1000))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        #expect(daemon.standardError.contains("every queued file will be refused"))
        #expect(try await query(settings, "SELECT error FROM ingest_jobs", as: String.self).first?
            .contains("this daemon may read no directory") == true)
    }

    @Test func watchedDirectoryIsQueuedAndIngested() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let inbox = try RepositoryPaths.temporaryDirectory("colpali-watch")
        let daemon = try ChildProcess(binary, ["run", "--watch", inbox.path, "--poll-interval", "0.3", "--dpi", "60"],
                                      environment: IngestFixtures.environment(settings))
        _ = try pdfs(2, pages: 1, in: inbox)
        let done = try await waitUntil(60) { try await jobs(settings, status: "done") == 2 }
        #expect(done, "\(daemon.standardError.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        let sources = try await query(settings, "SELECT source_uri FROM documents ORDER BY source_uri", as: String.self)
        #expect(sources == ["file://\(inbox.path)/doc0.pdf", "file://\(inbox.path)/doc1.pdf"])
        #expect(daemon.standardError.contains("outcome=stored as document"), "\(daemon.standardError.suffix(800))")

        // Restarted, it does not queue what it already ingested; a changed
        // file is queued again.
        try await Task.sleep(for: .seconds(1))
        try TestPDF.make(pages: [.init(), .init()], seed: 77).write(to: inbox.appendingPathComponent("doc1.pdf"))
        let restarted = try ChildProcess(binary, ["run", "--watch", inbox.path, "--poll-interval", "0.3", "--dpi", "60"],
                                         environment: IngestFixtures.environment(settings))
        #expect(try await waitUntil(60) { try await jobs(settings, status: "done") == 3 }, "\(restarted.standardError.suffix(1500))")
        try await Task.sleep(for: .seconds(2))
        restarted.signal(SIGTERM)
        #expect(await restarted.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT count(*) FROM ingest_jobs", as: Int.self) == [3])
        #expect(try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE source_uri LIKE '%doc1.pdf'", as: Int.self) == [2])
    }

    @Test func twoDaemonsShareOneQueueAndDoEveryJobOnce() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-two")
        let first = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--worker", "first", "--batch-size", "1"])
        let second = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--worker", "second", "--batch-size", "1"])
        // Both are up before there is work, so both get some.
        #expect(try await waitUntil(60) {
            first.standardError.contains("ingest daemon started") && second.standardError.contains("ingest daemon started")
        })
        try await enqueue(try pdfs(8, pages: 6, in: directory), settings)
        let done = try await waitUntil { try await jobs(settings, status: "done") == 8 }
        #expect(done, "\(first.standardError.suffix(1500))")
        first.signal(SIGTERM)
        second.signal(SIGTERM)
        #expect(await first.wait(timeout: 30) == 0)
        #expect(await second.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE status = 'ready'", as: Int.self) == [8])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [48])
        // Every job ran once, and both workers took some.
        #expect(try await query(settings, "SELECT max(attempts) FROM ingest_jobs", as: Int.self) == [1])
        let workers = try await query(settings, "SELECT DISTINCT claimed_by FROM ingest_jobs ORDER BY 1", as: String.self)
        #expect(workers == ["first", "second"])
        try await expectConsistent(settings)
    }

    /// SIGKILL while the daemon is inside the transaction that stores a
    /// document (held there by a lock on `pages`): nothing of it is visible
    /// afterwards, and a successor takes the job over once the lease expires.
    @Test func killedInsideTheStoreTransactionLosesNothingAndIsTakenOver() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-kill")
        try await enqueue(try pdfs(1, pages: 3, in: directory), settings)
        let victim = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--lease", "2", "--worker", "victim"])
        try await whileTheStoreWaits(settings, for: victim) {
            // Its document row is written but not committed.
            victim.signal(SIGKILL)
            #expect(await victim.wait(timeout: 10) == 128 + SIGKILL)
        }
        try await expectConsistent(settings)
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [0])
        #expect(try await query(settings, "SELECT status || ' ' || claimed_by FROM ingest_jobs", as: String.self) == ["running victim"])

        let successor = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--lease", "2", "--worker", "successor"])
        let done = try await waitUntil(60) { try await jobs(settings, status: "done") == 1 }
        #expect(done, "\(successor.standardError.suffix(1500))")
        successor.signal(SIGINT)
        #expect(await successor.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT attempts || ' ' || claimed_by FROM ingest_jobs", as: String.self) == ["2 successor"])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [3])
        try await expectConsistent(settings)
    }

    /// The server ends the daemon's session inside the store transaction
    /// (a restart, an administrator): the transaction is lost, the daemon
    /// stores the document again on a new connection within the same claim.
    @Test func aSessionKilledInsideTheStoreTransactionIsRetried() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-killed-session")
        try await enqueue(try pdfs(1, pages: 3, in: directory), settings)
        let daemon = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--worker", "only"])
        try await whileTheStoreWaits(settings, for: daemon, terminating: true)
        #expect(try await waitUntil(60) { try await jobs(settings, status: "done") == 1 }, "\(daemon.standardError.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        #expect(daemon.standardError.contains("database unavailable, retrying"))
        #expect(try await query(settings, "SELECT attempts || ' ' || claimed_by FROM ingest_jobs", as: String.self) == ["1 only"])
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [1])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [3])
        try await expectConsistent(settings)
    }

    /// A job that outlasts its lease many times over keeps it: the holder
    /// renews it, so a second daemon polling all along never takes it over.
    @Test func aLongJobKeepsItsLeaseAgainstASecondDaemon() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-renew")
        try await enqueue(try pdfs(1, pages: 2, in: directory), settings)
        let holder = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--lease", "1", "--worker", "holder"])
        // The holder's store waits for five lease lengths while a rival polls.
        try await whileTheStoreWaits(settings, for: holder) {
            let rival = try daemon(settings, reading: directory, ["--poll-interval", "0.2", "--lease", "1", "--worker", "rival"])
            try await Task.sleep(for: .seconds(5))
            rival.signal(SIGTERM)
            #expect(await rival.wait(timeout: 30) == 0)
        }
        #expect(try await waitUntil(60) { try await jobs(settings, status: "done") == 1 }, "\(holder.standardError.suffix(1500))")
        holder.signal(SIGTERM)
        #expect(await holder.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT attempts || ' ' || claimed_by FROM ingest_jobs", as: String.self) == ["1 holder"])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [2])
    }

    /// SIGTERM mid-document: the job goes back to the queue unclaimed, its
    /// attempt not counted, and nothing of it is stored.
    @Test func sigtermReleasesTheCurrentJob() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-term")
        try await enqueue(try pdfs(1, pages: 300, in: directory), settings)
        let daemon = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--batch-size", "1"])
        let claimed = try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'running' AND attempts = 1", as: Int.self) == [1]
        }
        #expect(claimed, "\(daemon.standardError.suffix(1000))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        #expect(daemon.standardError.contains("released job back to the queue"))
        #expect(try await query(settings, "SELECT status || ' ' || attempts || ' ' || coalesce(claimed_by, 'nobody') FROM ingest_jobs",
                                as: String.self) == ["queued 0 nobody"])
        #expect(try await query(settings, "SELECT count(*) FROM documents", as: Int.self) == [0])
    }
}

extension IngestDaemonTests {
    /// The database going away delays work; it loses none. A cluster of its
    /// own, so stopping it disturbs no other test.
    @Test func daemonRidesOutADeadDatabase() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-dead-db")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cluster = try LocalCluster(dataDirectory: directory.appendingPathComponent(".colpali"))
        defer { _ = try? cluster.stop() }
        let settings = try await cluster.open(logger: logger)
        _ = try await TestPostgres.migrator().migrate(settings)
        let files = try pdfs(2, pages: 2, in: directory)
        try await enqueue([files[0]], settings)

        // Down before the daemon starts: it waits for the server.
        _ = try cluster.stop()
        let daemon = try daemon(settings, reading: directory, ["--poll-interval", "0.5", "--lease", "3"])
        try await Task.sleep(for: .seconds(3))
        #expect(await daemon.wait(timeout: 0.1) == nil, "the daemon gave up: \(daemon.standardError.suffix(800))")
        _ = try cluster.start(logger: logger)
        #expect(try await waitUntil(60) { try await jobs(settings, status: "done") == 1 }, "\(daemon.standardError.suffix(1500))")

        // Down again while it idles; work queued afterwards is still done.
        _ = try cluster.stop()
        try await Task.sleep(for: .seconds(3))
        _ = try cluster.start(logger: logger)
        try await enqueue([files[1]], settings)
        #expect(try await waitUntil(60) { try await jobs(settings, status: "done") == 2 }, "\(daemon.standardError.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        try await expectConsistent(settings)
    }
}
