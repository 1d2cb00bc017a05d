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

    /// `--data-dir`, else `COLPALI_DATA_DIR`, else `.colpali` in the current directory.
    public static func defaultDataDirectory(_ explicit: String?, environment: [String: String]) -> URL {
        let path = explicit ?? environment["COLPALI_DATA_DIR"] ?? ".colpali"
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL
    }

    /// Connection settings for work. The local cluster is created, started and
    /// migrated on demand; a server is used as it is (see `requireSchema`).
    public func open(logger: Logger) async throws -> ConnectionSettings {
        switch self {
        case .server(let settings):
            return settings
        case .local(let cluster):
            let settings = try await cluster.open(logger: logger)
            let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
            _ = try await migrator.migrate(settings)
            return settings
        }
    }

    /// Settings for searching and ingesting: the local database opened (and
    /// so migrated), a server checked to have the extension and exactly this
    /// program's schema.
    public func openChecked(logger: Logger) async throws -> ConnectionSettings {
        let settings = try await open(logger: logger)
        if case .server = self { try await Self.requireSchema(settings, logger: logger) }
        return settings
    }

    /// Refuses a database whose schema is not exactly what this program's
    /// migrations describe (the local database is migrated on open).
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
