import ArgumentParser
import ColPaliStorage
import Foundation
import Logging

/// Options every command that touches the database accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL URL (postgresql://user:password@host:port/db). Default: $DATABASE_URL, else the local database.",
        valueName: "url"))
    var databaseURL: String?

    @Option(name: .long, help: ArgumentHelp(
        "Project data directory holding the local database. Default: $COLPALI_DATA_DIR, else ./.colpali.",
        valueName: "dir"))
    var dataDir: String?

    @Flag(name: .shortAndLong, help: "Log what happens (to stderr).")
    var verbose = false

    var logger: Logger {
        var logger = Logger(label: "colpali")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    func target() throws -> DatabaseTarget {
        try DatabaseTarget.resolve(databaseURL: databaseURL, dataDirectory: dataDir)
    }

    func localCluster() throws -> LocalCluster {
        guard case .local(let cluster) = try DatabaseTarget.resolve(databaseURL: nil, dataDirectory: dataDir) else {
            throw CLIError("no local database")
        }
        return cluster
    }
}
