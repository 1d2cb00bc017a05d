import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Servers that misbehave: one that accepts connections and never answers,
/// and a real PostgreSQL that wants a password.
@Suite(.serialized) struct ConnectionFailureTests {
    let logger = TestPostgres.logger

    /// A TCP listener that accepts and then says nothing, as a hung or
    /// overloaded server does. Returns its port; closed by `close(fd)`.
    static func silentListener() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(fd, raw, length) == 0, listen(fd, 8) == 0, getsockname(fd, raw, &length) == 0 else {
                    throw POSIXError(.EADDRINUSE)
                }
            }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aServerThatNeverAnswersIsAnErrorNotAHang() async throws {
        let (fd, port) = try Self.silentListener()
        defer { close(fd) }
        let settings = try ConnectionSettings(url: "postgresql://colpali@127.0.0.1:\(port)/colpali?sslmode=disable")
        let started = ContinuousClock.now
        do {
            try await Database.withConnection(settings, logger: logger) { _ in }
            Issue.record("connected to a server that never answered")
        } catch let error as StorageError {
            #expect(error.description.contains("cannot reach the database at postgresql://colpali@127.0.0.1:\(port)/colpali"),
                    "\(error)")
            #expect(error.description.contains("timed out: no answer within 10 s"), "\(error)")
        }
        // Bounded by the connect timeout (10 s, which covers the handshake),
        // not forever. Alone this takes 10.0 s; inside the whole parallel
        // suite on 2 cores the timeout has fired after 32-35 s (the shared
        // event loop threads busy with other tests' work), so the bound
        // tells a hang from a late timer, not a 10 s timer from a 30 s one.
        #expect(ContinuousClock.now - started < .seconds(90))
    }

    /// A real server on 127.0.0.2 with SCRAM passwords (the local test cluster
    /// trusts its socket, so it cannot tell a wrong password).
    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func wrongOrMissingPasswordsAreNamed() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-password")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cluster = try LocalCluster(dataDirectory: directory)
        defer { _ = try? cluster.stop() }
        let local = try await cluster.open(logger: logger)
        try await Database.withConnection(local, logger: logger) { c in
            _ = try await c.query("SET password_encryption = 'scram-sha-256'", logger: logger)
            _ = try await c.query("ALTER ROLE colpali PASSWORD 'right-password'", logger: logger)
        }
        _ = try cluster.stop()
        let conf = cluster.pgData.appendingPathComponent("postgresql.conf")
        let hba = cluster.pgData.appendingPathComponent("pg_hba.conf")
        try (String(contentsOf: conf, encoding: .utf8) + "\nlisten_addresses = '127.0.0.2'\n").write(to: conf, atomically: false, encoding: .utf8)
        // Loopback connections come from 127.0.0.1 whatever address they reach.
        try ("host all all all scram-sha-256\n" + String(contentsOf: hba, encoding: .utf8)).write(to: hba, atomically: false, encoding: .utf8)
        do {
            try cluster.start(logger: logger)
        } catch {
            // 127.0.0.2:5432 taken by something else on this machine.
            Issue.record("cannot start a TCP server on 127.0.0.2 here: \(error)")
            return
        }
        func attempt(_ url: String) async -> String {
            do {
                try await Database.withConnection(try ConnectionSettings(url: url), logger: logger) { _ in }
                return "connected"
            } catch {
                return String(describing: error)
            }
        }
        let wrong = await attempt("postgresql://colpali:wrong-password@127.0.0.2:5432/colpali?sslmode=disable")
        #expect(wrong.contains("refused the login") && wrong.contains("password authentication failed"), "\(wrong)")
        #expect(!wrong.contains("wrong-password"))
        let missing = await attempt("postgresql://colpali@127.0.0.2:5432/colpali?sslmode=disable")
        #expect(missing.contains("refused the login") && missing.contains("password"), "\(missing)")
        #expect(await attempt("postgresql://colpali:right-password@127.0.0.2:5432/colpali?sslmode=disable") == "connected")
    }
}
