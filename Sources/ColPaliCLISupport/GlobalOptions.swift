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
        "Directory of the local database. Default: $COLPALI_DATA_DIR, else $XDG_DATA_HOME/colpali, else ~/.local/share/colpali.",
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

    /// The database for a command, saying on stderr when the local one was
    /// created or started by it (`command` prefixes the lines). Read-only
    /// commands pass `.existing`: they never create or start a server.
    public func open(_ access: DatabaseTarget.Access, command: String, logger: Logger) async throws -> ConnectionSettings {
        let target = try target()
        if case .local(let cluster) = target { Self.mentionEarlierDatabase(besides: cluster.dataDirectory, command: command) }
        let opened = try await target.open(access, logger: logger)
        if let directory = opened.dataDirectory?.path {
            if opened.created {
                Self.note("\(command): created a new local database in \(directory) (another place: --data-dir or COLPALI_DATA_DIR)")
            } else if opened.started {
                Self.note("\(command): started the local database in \(directory) (`colpali db stop` stops it)")
            }
        }
        return opened.settings
    }

    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Earlier versions kept the local database in ./.colpali of whatever
    /// directory a command ran in: say where one is, once, instead of
    /// silently showing an empty database.
    static func mentionEarlierDatabase(besides current: URL, command: String) {
        let old = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".colpali")
        guard old.standardizedFileURL != current.standardizedFileURL,
              FileManager.default.fileExists(atPath: old.appendingPathComponent("pg/data/PG_VERSION").path) else { return }
        note("\(command): note: a local database from an earlier version is in \(old.path); use it with --data-dir \(old.path)")
    }

    public func localCluster() throws -> LocalCluster {
        guard case .local(let cluster) = try DatabaseTarget.resolve(databaseURL: nil, dataDirectory: dataDir) else {
            throw CLIError("no local database")
        }
        return cluster
    }
}
