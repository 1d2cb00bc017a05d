import ColPaliStorage
import Foundation
import Testing
import TestSupport

/// The private cluster: idempotent start, clean stop, no collisions.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct LocalClusterTests {
    let logger = TestPostgres.logger

    func processCount(dataDirectory: URL) -> Int {
        // postgres processes whose command line names this data directory.
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.filter { pid in
            guard Int(pid) != nil,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let text = String(decoding: cmdline, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
            return text.contains("postgres") && text.contains(dataDirectory.path)
        }.count
    }

    @Test func startTwiceIsHarmlessAndStopLeavesNothing() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-cluster")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cluster = try LocalCluster(dataDirectory: directory)
        #expect(cluster.state == .notInitialized)
        #expect(try cluster.start(logger: logger) == true)
        guard case .running = cluster.state else { Issue.record("not running"); return }
        #expect(try cluster.start(logger: logger) == false)
        _ = try await cluster.open(logger: logger)
        #expect(try cluster.stop() == true)
        #expect(cluster.state == .stopped)
        #expect(processCount(dataDirectory: cluster.pgData) == 0)
        #expect(try cluster.stop() == false)
        // Restart after a stop keeps the data.
        #expect(try cluster.start(logger: logger) == true)
        _ = try cluster.stop()
    }

    @Test func twoProjectsDoNotCollide() async throws {
        let first = try RepositoryPaths.temporaryDirectory("colpali-a")
        let second = try RepositoryPaths.temporaryDirectory("colpali-b")
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        let a = try LocalCluster(dataDirectory: first)
        let b = try LocalCluster(dataDirectory: second)
        #expect(a.socketDirectory != b.socketDirectory)
        defer {
            _ = try? a.stop()
            _ = try? b.stop()
        }
        let sa = try await a.open(logger: logger)
        let sb = try await b.open(logger: logger)
        let pa = try await Database.withConnection(sa, logger: logger) { c in
            try await c.query("SELECT setting FROM pg_settings WHERE name = 'data_directory'", logger: logger)
                .collect().first?.decode(String.self)
        }
        let pb = try await Database.withConnection(sb, logger: logger) { c in
            try await c.query("SELECT setting FROM pg_settings WHERE name = 'data_directory'", logger: logger)
                .collect().first?.decode(String.self)
        }
        #expect(pa == a.pgData.path)
        #expect(pb == b.pgData.path)
    }

    /// A project path long enough that the socket goes to /tmp: a directory
    /// another user made there first (writable by all, or theirs) is refused,
    /// never used, and the server is not started.
    @Test func preparedSocketDirectoryInTmpIsRefused() async throws {
        let base = try RepositoryPaths.temporaryDirectory("colpali-long")
        defer { try? FileManager.default.removeItem(at: base) }
        let deep = base.appendingPathComponent(String(repeating: "d", count: 60)).appendingPathComponent(String(repeating: "e", count: 40))
        let cluster = try LocalCluster(dataDirectory: deep)
        #expect(cluster.socketDirectory.path.hasPrefix("/tmp/colpali-\(geteuid())-"))
        try? FileManager.default.removeItem(at: cluster.socketDirectory)
        #expect(mkdir(cluster.socketDirectory.path, 0o777) == 0)
        chmod(cluster.socketDirectory.path, 0o777)
        defer { try? FileManager.default.removeItem(at: cluster.socketDirectory) }
        if geteuid() == 0, let nobody = getpwnam("nobody") { chown(cluster.socketDirectory.path, nobody.pointee.pw_uid, nobody.pointee.pw_gid) }
        do {
            try cluster.start(logger: logger)
            Issue.record("started with a socket directory others control")
            _ = try? cluster.stop()
        } catch let error as StorageError {
            let text = error.description
            #expect(text.contains(cluster.socketDirectory.path) && (text.contains("writable by other users") || text.contains("another user")),
                    "\(text)")
        }
        #expect(processCount(dataDirectory: cluster.pgData) == 0)
        // A link in its place is refused too.
        try FileManager.default.removeItem(at: cluster.socketDirectory)
        try FileManager.default.createSymbolicLink(atPath: cluster.socketDirectory.path, withDestinationPath: base.path)
        #expect(throws: StorageError.self) { try cluster.start(logger: logger) }
    }
}
