import ArgumentParser
import ColPaliCLISupport
import ColPaliStorage
import Foundation

/// `colpali db start|stop|status|url`: the private local PostgreSQL.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the local database (a private PostgreSQL under the data directory).",
        subcommands: [Start.self, Stop.self, Status.self, URLCommand.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (first time) and start the local database, install the extension, apply migrations.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let cluster = try global.localCluster()
            let opened = try await DatabaseTarget.local(cluster).open(.createIfNeeded, logger: global.logger)
            if opened.created { print("created a new local database in \(cluster.dataDirectory.path)") }
            print(opened.started ? "local database started" : "local database already running")
            print(cluster.url)
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the local database.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let stopped = try global.localCluster().stop()
            print(stopped ? "local database stopped" : "local database was not running")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether the local database is running; exit status 3 when it is not.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let cluster = try global.localCluster()
            switch cluster.state {
            case .running(let pid):
                print("running (pid \(pid)), data in \(cluster.pgData.path)")
                print(cluster.url)
            case .stopped:
                print("stopped, data in \(cluster.pgData.path)")
                throw ExitCode(3)
            case .notInitialized:
                print("not created yet (`colpali db start` or `colpali-ingest add` creates it in \(cluster.dataDirectory.path))")
                throw ExitCode(3)
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url", abstract: "Print the local database's connection URL (for psql and DATABASE_URL).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            print(try global.localCluster().url)
        }
    }
}
