import ArgumentParser
import ColPaliCLISupport
import ColPaliStorage
import Foundation

/// `colpali distribute`: spread documents and pages over a Citus cluster.
struct DistributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distribute",
        abstract: "Distribute documents and pages over a Citus cluster (run against the coordinator).",
        discussion: """
            Applies pending migrations, then shards documents and pages by document (colocated) and copies \
            collections to every node; existing data moves with them, in one transaction. Running it again changes \
            nothing. Ingest and search then work unchanged through the coordinator. See docs/scale-out.md.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Shards for documents and pages (default: the cluster's citus.shard_count).", valueName: "n"))
    var shardCount: Int?

    @Flag(help: "Print the SQL it runs instead of running it.")
    var printSQL = false

    func validate() throws {
        if let shardCount, !(1...1024).contains(shardCount) { throw ValidationError("--shard-count must be between 1 and 1024") }
    }

    func run() async throws {
        if printSQL {
            print("-- colpali distribute, for schema version \(Distribution.schemaVersion): run on the Citus coordinator.")
            print("BEGIN;")
            for statement in Distribution.statements(shardCount: shardCount) { print(statement + ";") }
            print("COMMIT;")
            return
        }
        let logger = global.logger
        let target = try global.target()
        guard case .server(let settings) = target else { throw Distribution.DistributionError.notCitus }
        let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
        let report = try await migrator.migrate(settings)
        for migration in report.applied { print("applied \(migration.fileName)") }
        let outcome = try await Database.withConnection(settings, logger: logger) { c in
            try await Distribution.distribute(shardCount: shardCount, on: c, logger: logger)
        }
        let size = "\(outcome.documents) documents, \(outcome.pages) pages"
        if outcome.alreadyDistributed {
            print("already distributed: \(outcome.shards) shards over \(outcome.workers) workers (\(size)); nothing changed")
        } else {
            print("distributed documents and pages in \(outcome.shards) shards over \(outcome.workers) workers (\(size))")
        }
        if !outcome.propagatesSetLocal {
            FileHandle.standardError.write(Data("""
                colpali: note: SQL written by hand that relies on row-level security must SET LOCAL \
                citus.propagate_set_commands = 'local' before SET LOCAL colpali.tenant, or the database's owner runs \
                ALTER DATABASE \(settings.database) SET citus.propagate_set_commands = 'local' once (the Swift client needs neither)

                """.utf8))
        }
    }
}
