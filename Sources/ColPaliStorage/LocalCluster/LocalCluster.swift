import Crypto
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The embedded default database: a private PostgreSQL cluster under the
/// project's data directory (like Milvus Lite's `milvus.db`), listening only on
/// a Unix socket in its own directory, so two checkouts never collide.
///
/// Postgres refuses to run as root; when we are root the server runs as an
/// unprivileged account (`postgres` if it exists, else `nobody`).
public struct LocalCluster: Sendable {
    public static let databaseName = "colpali"
    public static let superuser = "colpali"
    static let port = 5432

    public enum State: Sendable, Equatable {
        case notInitialized
        case stopped
        case running(pid: Int)
    }

    /// The project data directory (`.colpali` by default).
    public let dataDirectory: URL
    /// Where the cluster lives: `<dataDirectory>/pg`, or a fallback under
    /// /var/tmp when the server account cannot reach the project directory.
    public let root: URL
    public let socketDirectory: URL
    let serverUser: String?
    let installation: PostgresInstallation

    public var pgData: URL { root.appendingPathComponent("data") }
    public var logFile: URL { root.appendingPathComponent("postgres.log") }

    public init(dataDirectory: URL) throws {
        let dataDirectory = dataDirectory.standardizedFileURL
        self.dataDirectory = dataDirectory
        self.installation = try PostgresInstallation.find()
        self.serverUser = geteuid() == 0 ? Self.unprivilegedAccount() : nil
        let key = Self.shortHash(dataDirectory.path)

        var root = dataDirectory.appendingPathComponent("pg")
        if let user = serverUser {
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
            let probe = try ProcessRunner(runAsUser: user).run("/usr/bin/test", ["-x", dataDirectory.path])
            if probe.status != 0 {
                // e.g. a checkout inside a 0700 directory of root's.
                root = URL(fileURLWithPath: Self.sharedClusters).appendingPathComponent(key)
            }
        }
        self.root = root
        // Unix socket paths are limited to 107 bytes. The fallback in /tmp is
        // per user (and checked before use: see PrivateDirectory).
        let socketDirectory = root.appendingPathComponent("run")
        if (socketDirectory.path + "/.s.PGSQL.\(Self.port)").utf8.count > 100 {
            self.socketDirectory = URL(fileURLWithPath: "/tmp/colpali-\(geteuid())-\(key)")
        } else {
            self.socketDirectory = socketDirectory
        }
    }

    public var connectionSettings: ConnectionSettings {
        ConnectionSettings(
            endpoint: .unixSocket(path: socketDirectory.appendingPathComponent(".s.PGSQL.\(Self.port)").path),
            username: Self.superuser, database: Self.databaseName, tlsMode: .disable)
    }

    /// A libpq URL for psql and other tools.
    public var url: String {
        "postgresql:///\(Self.databaseName)?host=\(socketDirectory.path)&user=\(Self.superuser)"
    }

    public var state: State {
        let pidFile = pgData.appendingPathComponent("postmaster.pid")
        guard FileManager.default.fileExists(atPath: pgData.appendingPathComponent("PG_VERSION").path) else {
            return .notInitialized
        }
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int($0) }),
              kill(pid_t(pid), 0) == 0 || errno == EPERM else {
            return .stopped
        }
        return .running(pid: pid)
    }

    /// Creates the cluster on first use and starts it; harmless when it is
    /// already running. Returns true when it had to start the server.
    @discardableResult
    public func start(logger: Logger) throws -> Bool {
        if case .running = state { return false }
        // Two commands starting at once (two `add`s on a new machine): one
        // creates and starts, the other waits for it and finds it running.
        let lock = try lockDataDirectory()
        defer { close(lock) }
        if case .running = state { return false }
        try prepareDirectories()
        if state == .notInitialized { try initialize(logger: logger) }
        logger.info("starting local database", metadata: ["data": "\(pgData.path)"])
        let result = try runner.run(installation.pgCtl, [
            "-D", pgData.path, "-l", logFile.path, "-w", "-t", "60", "start",
        ])
        guard result.status == 0 else {
            throw StorageError.clusterCommandFailed(
                command: "pg_ctl start", output: result.output + "\n" + lastLogLine())
        }
        return true
    }

    /// Stops the server (fast shutdown: running queries are cancelled) and
    /// waits until its processes are gone. Returns false when it was not running.
    @discardableResult
    public func stop() throws -> Bool {
        guard case .running(let pid) = state else { return false }
        let result = try runner.run(installation.pgCtl, ["-D", pgData.path, "-m", "fast", "-w", "-t", "60", "stop"])
        guard result.status == 0 else {
            throw StorageError.clusterCommandFailed(command: "pg_ctl stop", output: result.output)
        }
        // pg_ctl returns once the pid file is gone, which the server removes
        // on its way out: wait for the process itself, so that nothing of the
        // cluster runs once stop returns (a new start, or the data removed).
        var waited = 0
        while waited < 1_000, kill(pid_t(pid), 0) == 0 || errno == EPERM {
            usleep(10_000)  // at most 10 s in all
            waited += 1
        }
        return true
    }

    private var runner: ProcessRunner { ProcessRunner(runAsUser: serverUser) }

    /// An exclusive lock on `<dataDirectory>/.lock`, held until closed.
    private func lockDataDirectory() throws -> Int32 {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let path = dataDirectory.appendingPathComponent(".lock").path
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw StorageError.clusterUnusable(reason: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(fd)
                throw StorageError.clusterUnusable(reason: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        return fd
    }

    /// Where clusters go when the server account cannot reach the project
    /// directory (we are root, the checkout is in a private directory).
    static let sharedClusters = "/var/tmp/colpali-clusters"

    private func prepareDirectories() throws {
        var server = PrivateDirectory.Owner(uid: geteuid(), gid: getegid())
        if let user = serverUser, let account = getpwnam(user) {
            server = PrivateDirectory.Owner(uid: account.pointee.pw_uid, gid: account.pointee.pw_gid)
        }
        let us = PrivateDirectory.Owner(uid: geteuid(), gid: getegid())
        if root.deletingLastPathComponent().path == Self.sharedClusters {
            try PrivateDirectory.ensure(Self.sharedClusters, owner: us, mode: 0o755)
        } else {
            try FileManager.default.createDirectory(at: root.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        try PrivateDirectory.ensure(root.path, owner: server, mode: 0o755)
        try PrivateDirectory.ensure(socketDirectory.path, owner: server, mode: 0o700)
    }

    private func initialize(logger: Logger) throws {
        logger.info("creating local database cluster", metadata: ["data": "\(pgData.path)"])
        let result = try runner.run(installation.initdb, [
            "-D", pgData.path, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        ])
        guard result.status == 0 else {
            throw StorageError.clusterCommandFailed(command: "initdb", output: result.output)
        }
        // No TCP at all: the socket directory is the only way in, and only its
        // owner (and root) may enter it.
        let settings = """

            # colpali local cluster
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory.path)'
            unix_socket_permissions = 0700
            port = \(Self.port)
            shared_buffers = 256MB
            max_parallel_workers_per_gather = \(Self.parallelWorkersPerScan(cpus: ProcessInfo.processInfo.activeProcessorCount))
            """
        let conf = pgData.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    /// Workers a parallel scan (an exact search over every page) asks for:
    /// one fewer than the CPUs, because the leading backend scans too. With
    /// PostgreSQL's 2 on 2 CPUs, three processes shared two cores and a
    /// 2,000-page exact scan took a median 249 ms against 219 ms with one
    /// worker (18 scans each, alternated; Intel Xeon, cpu family 6 model 207).
    /// At most 8, PostgreSQL's default limit on parallel workers in all.
    package static func parallelWorkersPerScan(cpus: Int) -> Int {
        max(1, min(cpus - 1, 8))
    }

    private func lastLogLine() -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? ""
    }

    static func unprivilegedAccount() -> String {
        getpwnam("postgres") != nil ? "postgres" : "nobody"
    }

    static func shortHash(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
