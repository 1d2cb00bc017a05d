import ArgumentParser
import ColPaliStorage
import Foundation
import Logging

/// Options every command that touches the database accepts.
public struct GlobalOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL URL (postgresql://user:password@host:port/db). Default: $DATABASE_URL, else the local database.",
        valueName: "url"))
    public var databaseURL: String?

    @Option(name: .long, help: ArgumentHelp(
        "Project data directory holding the local database. Default: $COLPALI_DATA_DIR, else ./.colpali.",
        valueName: "dir"))
    public var dataDir: String?

    @Flag(name: .shortAndLong, help: "Log what happens (to stderr).")
    public var verbose = false

    public var logger: Logger { logger(label: "colpali", defaultLevel: .warning) }

    /// A command's logger: debug with -v, else $COLPALI_LOG_LEVEL, else `defaultLevel`.
    public func logger(label: String, defaultLevel: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : CommandLogging.level(default: defaultLevel)
        return logger
    }

    public func target() throws -> DatabaseTarget {
        try DatabaseTarget.resolve(databaseURL: databaseURL, dataDirectory: dataDir)
    }

    public func localCluster() throws -> LocalCluster {
        guard case .local(let cluster) = try DatabaseTarget.resolve(databaseURL: nil, dataDirectory: dataDir) else {
            throw CLIError("no local database")
        }
        return cluster
    }
}
