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
            return .server(try ConnectionSettings(url: url))
        }
        return .local(try LocalCluster(dataDirectory: defaultDataDirectory(dataDirectory, environment: environment)))
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

    public var displayName: String {
        switch self {
        case .server(let settings): return settings.redacted
        case .local(let cluster): return "local database (\(cluster.url))"
        }
    }
}
