import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// A real PostgreSQL for integration tests. `COLPALI_TEST_DATABASE_URL`
/// names a server with the colpali extension installed (scripts/test.sh
/// starts one); without it, the first test to ask starts a private cluster
/// under /tmp that is stopped when the test process exits. Each test gets a
/// database of its own.
public enum TestPostgres {
    public static let logger: Logger = {
        var logger = Logger(label: "colpali-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Whether the integration tests have a server: COLPALI_TEST_DATABASE_URL,
    /// or PostgreSQL's server programs and the colpali extension installed
    /// here (for a private cluster). Suites that need one are skipped
    /// otherwise, saying why.
    public static let isAvailable: Bool = {
        if let url = ProcessInfo.processInfo.environment["COLPALI_TEST_DATABASE_URL"], !url.isEmpty { return true }
        guard (try? PostgresInstallation.find()) != nil else { return false }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/share/postgresql")) ?? []
        return versions.contains { FileManager.default.fileExists(atPath: "/usr/share/postgresql/\($0)/extension/colpali.control") }
    }()

    public static let skipReason = "no PostgreSQL for the integration tests: install the server and the colpali extension "
        + "(scripts/test.sh does both), or set COLPALI_TEST_DATABASE_URL"

    /// Settings of the server's maintenance database.
    public static func server() async throws -> ConnectionSettings {
        try await SharedServer.shared.settings()
    }

    /// A new, empty database; with `migrated`, at the current schema.
    public static func freshDatabase(migrated: Bool = true) async throws -> ConnectionSettings {
        let server = try await server()
        // Named with the time it was made, so that a later run can tell the
        // leftovers of runs long over (see dropStaleDatabases).
        let name = "test_\(Int(Date().timeIntervalSince1970))_\(UUID().uuidString.prefix(8).lowercased())"
        try await Database.withConnection(server, logger: logger) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let settings = server.with(database: name)
        if migrated {
            _ = try await migrator().migrate(settings)
        }
        return settings
    }

    public static func migrator() throws -> Migrator {
        Migrator(migrations: try Migration.load(from: RepositoryPaths.migrations), logger: logger)
    }

    /// The URL form of some settings, for child processes.
    public static func url(of settings: ConnectionSettings) -> String {
        switch settings.endpoint {
        case .unixSocket(let path):
            let directory = (path as NSString).deletingLastPathComponent
            return "postgresql:///\(settings.database)?host=\(directory)&user=\(settings.username)"
        case .tcp(let host, let port):
            let password = settings.password.map { ":\($0)" } ?? ""
            return "postgresql://\(settings.username)\(password)@\(host):\(port)/\(settings.database)?sslmode=disable"
        }
    }
}

private nonisolated(unsafe) var clusterToStop: LocalCluster?

private actor SharedServer {
    static let shared = SharedServer()
    private var task: Task<ConnectionSettings, any Error>?

    func settings() async throws -> ConnectionSettings {
        if let task { return try await task.value }
        let task = Task { try await Self.start() }
        self.task = task
        return try await task.value
    }

    private static func start() async throws -> ConnectionSettings {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["COLPALI_TEST_DATABASE_URL"], !url.isEmpty {
            let settings = try ConnectionSettings(url: url).with(database: "postgres")
            try await dropStaleDatabases(on: settings)
            return settings
        }
        let directory = try RepositoryPaths.temporaryDirectory("colpali-tests")
        let cluster = try LocalCluster(dataDirectory: directory)
        clusterToStop = cluster
        atexit {
            _ = try? clusterToStop?.stop()
            if let root = clusterToStop?.dataDirectory { try? FileManager.default.removeItem(at: root) }
        }
        _ = try await cluster.open(logger: TestPostgres.logger)
        return cluster.connectionSettings.with(database: "postgres")
    }

    /// Tests leave their databases behind (a failing one can be looked at);
    /// on a server that outlives the runs they would pile up (1,486 of them,
    /// 12 GB, on a developer's machine). Each run drops those made more than
    /// a day ago, and those named before names carried the time.
    private static func dropStaleDatabases(on server: ConnectionSettings) async throws {
        let logger = TestPostgres.logger
        try await Database.withConnection(server, logger: logger) { connection in
            let names = try await connection.query("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'", logger: logger)
                .collect().map { try $0.decode(String.self) }
            let dayAgo = Int(Date().timeIntervalSince1970) - 86_400
            for name in names {
                let parts = name.split(separator: "_")
                if parts.count == 3, let made = Int(parts[1]), made > dayAgo { continue }
                // Only names this file makes: letters, digits and underscores. One in use stays.
                guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { continue }
                _ = try? await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)"), logger: logger)
            }
        }
    }
}
