import Foundation
import Logging

/// Which database the tools talk to: the server named by `--database-url` or
/// `DATABASE_URL`, else the private local cluster under the data directory.
public enum DatabaseTarget: Sendable {
    case server(ConnectionSettings)
    case local(LocalCluster)

    public static func resolve(
        databaseURL: String?,
        dataDirectory: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> DatabaseTarget {
        if let url = databaseURL ?? environment["DATABASE_URL"], !url.isEmpty {
            var settings = try ConnectionSettings(url: url)
            if settings.password == nil { settings.password = try password(environment) }
            return .server(settings)
        }
        return .local(try LocalCluster(dataDirectory: defaultDataDirectory(dataDirectory, environment: environment)))
    }

    /// A password kept out of the URL: the file named by
    /// `DATABASE_PASSWORD_FILE` (Docker secrets), else libpq's `PGPASSWORD`.
    static func password(_ environment: [String: String]) throws -> String? {
        if let file = environment["DATABASE_PASSWORD_FILE"], !file.isEmpty {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw StorageError.invalidDatabaseURL(file, reason: "DATABASE_PASSWORD_FILE cannot be read")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return environment["PGPASSWORD"]
    }

    /// One local database per user, wherever the command runs (as Milvus
    /// Lite and Qdrant's local mode keep one named store): `--data-dir`, else
    /// `COLPALI_DATA_DIR`, else `$XDG_DATA_HOME/colpali`, else
    /// `~/.local/share/colpali`.
    public static func defaultDataDirectory(_ explicit: String?, environment: [String: String]) -> URL {
        let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if let path = explicit ?? environment["COLPALI_DATA_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: base).standardizedFileURL
        }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("colpali").standardizedFileURL
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/colpali").standardizedFileURL
    }

    /// What a command may do to the local database: commands that only read
    /// (search, list, explain, delete) never create or start it; commands
    /// that add data (ingest, migrate, `db start`) create and start it on
    /// first use.
    public enum Access: Sendable {
        case existing
        case createIfNeeded
    }

    /// An opened database, and what opening it did.
    public struct Opened: Sendable {
        public let settings: ConnectionSettings
        /// The local database was created by this call (its directory is in `dataDirectory`).
        public let created: Bool
        /// The local database server was started by this call.
        public let started: Bool
        public let dataDirectory: URL?
    }

    /// Connection settings for work, the schema checked to be exactly what
    /// this program's migrations describe. With `.createIfNeeded` the local
    /// database is created, started and migrated on demand; a server is never
    /// migrated here (that is `colpali migrate`'s and the daemon's job).
    public func open(_ access: Access, logger: Logger) async throws -> Opened {
        switch self {
        case .server(let settings):
            try await Self.requireSchema(settings, logger: logger)
            return Opened(settings: settings, created: false, started: false, dataDirectory: nil)
        case .local(let cluster):
            switch (access, cluster.state) {
            case (.existing, .notInitialized):
                throw StorageError.localDatabaseMissing(dataDirectory: cluster.dataDirectory.path)
            case (.existing, .stopped):
                throw StorageError.localDatabaseStopped(dataDirectory: cluster.dataDirectory.path)
            case (.existing, .running):
                let settings = cluster.connectionSettings
                try await Self.requireSchema(settings, logger: logger)
                return Opened(settings: settings, created: false, started: false, dataDirectory: cluster.dataDirectory)
            case (.createIfNeeded, _):
                let created = cluster.state == .notInitialized
                let started = try cluster.start(logger: logger)
                let settings = try await cluster.open(logger: logger)
                let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
                _ = try await migrator.migrate(settings)
                return Opened(settings: settings, created: created, started: started, dataDirectory: cluster.dataDirectory)
            }
        }
    }

    /// Refuses a database whose schema is not exactly what this program's
    /// migrations describe.
    public static func requireSchema(_ settings: ConnectionSettings, logger: Logger) async throws {
        let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            let hasExtension = try await c.query("SELECT 1 FROM pg_extension WHERE extname = 'colpali'", logger: logger)
                .collect().count == 1
            if !hasExtension { throw StorageError.extensionMissing(database: settings.database) }
            try await migrator.requireCurrent(on: c)
        }
    }

    public var displayName: String {
        switch self {
        case .server(let settings): return settings.redacted
        case .local(let cluster): return "local database (\(cluster.url))"
        }
    }
}
