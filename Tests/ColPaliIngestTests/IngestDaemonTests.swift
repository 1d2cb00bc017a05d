import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// `colpali-ingest` as users run it: one-shot add, and daemons on a queue.
@Suite(.serialized) struct IngestDaemonTests {
    let binary = RepositoryPaths.executable("colpali-ingest")
    let logger = TestPostgres.logger

    func query<T: Sendable>(_ settings: ConnectionSettings, _ sql: PostgresQuery, as type: T.Type) async throws -> [T]
    where T: PostgresDecodable {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query(sql, logger: logger).collect().map { try $0.decode(T.self) }
        }
    }

    func pdfs(_ count: Int, pages: Int, in directory: URL) throws -> [String] {
        try (0..<count).map { i in
            try TestPDF.write(TestPDF.make(pages: Array(repeating: .init(), count: pages), seed: 100 + i), named: "doc\(i).pdf", in: directory)
        }
    }

    func enqueue(_ paths: [String], _ settings: ConnectionSettings) async throws {
        try await Database.withConnection(settings, logger: logger) { c in
            for path in paths {
                // Plain SQL, as any application may enqueue.
                _ = try await c.query("INSERT INTO ingest_jobs (source_uri, options) VALUES (\(path), '{\"dpi\": 60}')", logger: logger)
            }
        }
    }

    func waitUntil(_ timeout: Double = 120, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
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

    @Test func addStoresGoodFilesReportsBadOnesAndExitsNonZero() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-add")
        _ = try pdfs(2, pages: 2, in: directory)
        try Data("not a pdf".utf8).write(to: directory.appendingPathComponent("broken.pdf"))
        let result = try await ChildProcess.run(binary, ["add", "--dpi", "60", directory.path], environment: IngestFixtures.environment(settings))
        #expect(result.status != 0)
        #expect(result.output.contains("stored \(directory.path)/doc0.pdf"))
        #expect(result.error.contains("failed \(directory.path)/broken.pdf: not a PDF"))
        #expect(result.error.contains("1 of 3 documents failed"))
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE status = 'ready'", as: Int.self) == [2])
        // Again: skipped, success.
        let again = try await ChildProcess.run(binary, ["add", directory.appendingPathComponent("doc1.pdf").path],
                                               environment: IngestFixtures.environment(settings))
        #expect(again.status == 0)
        #expect(again.output.contains("skipped"))
        // --queue only queues.
        let queued = try await ChildProcess.run(binary, ["add", "--queue", "--force", directory.appendingPathComponent("doc1.pdf").path],
                                                environment: IngestFixtures.environment(settings))
        #expect(queued.status == 0, "\(queued.error)")
        #expect(try await query(settings, "SELECT options->>'force' FROM ingest_jobs WHERE status = 'queued'", as: String.self) == ["true"])
    }

    @Test func daemonWakesOnInsertAndProcessesTheQueue() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-run")
        let daemon = try ChildProcess(binary, ["run", "--poll-interval", "30"], environment: IngestFixtures.environment(settings))
        // Give it time to start listening, then enqueue: the notification, not the 30 s poll, wakes it.
        try await Task.sleep(for: .seconds(3))
        try await enqueue(try pdfs(3, pages: 2, in: directory) + [directory.appendingPathComponent("absent.pdf").path], settings)
        let done = try await waitUntil(25) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status IN ('done', 'failed')", as: Int.self) == [4]
        }
        #expect(done, "jobs not processed: \(daemon.standardError.suffix(2000))")
        #expect(try await query(settings, "SELECT error FROM ingest_jobs WHERE status = 'failed'", as: String.self)
            .first?.contains("no such file") == true)
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        try await expectConsistent(settings)
    }

    @Test func twoDaemonsShareOneQueueAndDoEveryJobOnce() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-two")
        let files = try pdfs(8, pages: 3, in: directory)
        try await enqueue(files, settings)
        let first = try ChildProcess(binary, ["run", "--poll-interval", "0.5", "--worker", "first", "--batch-size", "1"],
                                     environment: IngestFixtures.environment(settings))
        let second = try ChildProcess(binary, ["run", "--poll-interval", "0.5", "--worker", "second", "--batch-size", "1"],
                                      environment: IngestFixtures.environment(settings))
        let done = try await waitUntil {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'done'", as: Int.self) == [8]
        }
        #expect(done, "\(first.standardError.suffix(1500))")
        first.signal(SIGTERM)
        second.signal(SIGTERM)
        #expect(await first.wait(timeout: 30) == 0)
        #expect(await second.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE status = 'ready'", as: Int.self) == [8])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [24])
        // Every job ran once: one attempt each, spread over both workers.
        #expect(try await query(settings, "SELECT max(attempts) FROM ingest_jobs", as: Int.self) == [1])
        let workers = try await query(settings, "SELECT DISTINCT claimed_by FROM ingest_jobs ORDER BY 1", as: String.self)
        #expect(Set(workers).isSubset(of: ["first", "second"]))
        try await expectConsistent(settings)
    }

    @Test func killedDaemonLosesNothingAndLeavesNothingHalfWritten() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-kill")
        try await enqueue(try pdfs(6, pages: 12, in: directory), settings)
        let arguments = ["run", "--poll-interval", "0.5", "--lease", "2", "--batch-size", "1", "--dpi", "150"]
        let victim = try ChildProcess(binary, arguments, environment: IngestFixtures.environment(settings))
        // Kill it in the middle of a job.
        _ = try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'running'", as: Int.self) == [1]
        }
        try await Task.sleep(for: .milliseconds(300))
        victim.signal(SIGKILL)
        #expect(await victim.wait(timeout: 10) == 128 + SIGKILL)
        try await expectConsistent(settings)

        let successor = try ChildProcess(binary, arguments, environment: IngestFixtures.environment(settings))
        let done = try await waitUntil {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'done'", as: Int.self) == [6]
        }
        #expect(done, "\(successor.standardError.suffix(1500))")
        successor.signal(SIGINT)
        #expect(await successor.wait(timeout: 30) == 0)
        #expect(try await query(settings, "SELECT count(*) FROM documents WHERE status = 'ready'", as: Int.self) == [6])
        #expect(try await query(settings, "SELECT count(*) FROM pages", as: Int.self) == [72])
        try await expectConsistent(settings)
    }

    @Test func sigtermReleasesTheCurrentJob() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let directory = try RepositoryPaths.temporaryDirectory("colpali-term")
        try await enqueue(try pdfs(1, pages: 40, in: directory), settings)
        let daemon = try ChildProcess(binary, ["run", "--poll-interval", "0.5", "--batch-size", "1", "--dpi", "200"],
                                      environment: IngestFixtures.environment(settings))
        _ = try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'running'", as: Int.self) == [1]
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        let status = try await query(settings, "SELECT status FROM ingest_jobs", as: String.self)
        // Either it finished the document in time or it gave the job back.
        #expect(status == ["queued"] || status == ["done"], "\(status)")
        try await expectConsistent(settings)
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
        let daemon = try ChildProcess(binary, ["run", "--poll-interval", "0.5", "--lease", "3"],
                                      environment: IngestFixtures.environment(settings))
        try await Task.sleep(for: .seconds(3))
        #expect(await daemon.wait(timeout: 0.1) == nil, "the daemon gave up: \(daemon.standardError.suffix(800))")
        _ = try cluster.start(logger: logger)
        #expect(try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'done'", as: Int.self) == [1]
        }, "\(daemon.standardError.suffix(1500))")

        // Down again while it idles; work queued afterwards is still done.
        _ = try cluster.stop()
        try await Task.sleep(for: .seconds(3))
        _ = try cluster.start(logger: logger)
        try await enqueue([files[1]], settings)
        #expect(try await waitUntil(60) {
            try await query(settings, "SELECT count(*) FROM ingest_jobs WHERE status = 'done'", as: Int.self) == [2]
        }, "\(daemon.standardError.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: 30) == 0)
        try await expectConsistent(settings)
    }
}
