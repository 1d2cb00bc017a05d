import ArgumentParser
import ColPaliCLISupport
import ColPaliStorage
import Foundation

/// `colpali migrate`: apply pending schema migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (migrations/*.sql), each in a transaction.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only show which migrations are applied and which are pending.")
    var status = false

    func run() async throws {
        let logger = global.logger
        let target = try global.target()
        let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
        let settings: ConnectionSettings
        switch target {
        case .local:
            // The local database is created, started and migrated on demand.
            settings = try await global.open(.createIfNeeded, command: "colpali", logger: logger)
        case .server(let server):
            settings = server
        }
        if status {
            let applied = try await Database.withConnection(settings, logger: logger) { connection in
                try await migrator.appliedMigrations(on: connection)
            }
            try migrator.verify(applied)
            let done = Set(applied.map(\.version))
            for migration in migrator.migrations {
                print("\(done.contains(migration.version) ? "applied" : "pending")  \(migration.fileName)")
            }
            return
        }
        let report = try await migrator.migrate(settings)
        if report.applied.isEmpty {
            print("schema is current (version \(report.currentVersion)) on \(target.displayName)")
        } else {
            for migration in report.applied { print("applied \(migration.fileName)") }
            print("schema is now at version \(report.currentVersion) on \(target.displayName)")
        }
    }
}
