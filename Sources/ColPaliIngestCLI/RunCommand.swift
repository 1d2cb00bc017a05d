import ArgumentParser
import ColPaliCLISupport
import ColPaliIngest
import ColPaliStorage
import Foundation
import Logging
import ServiceLifecycle

/// `colpali-ingest run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the ingest daemon: take jobs from the ingest_jobs queue (and watched directories) until SIGTERM/SIGINT.",
        discussion: """
            Enqueue with `colpali-ingest add --queue FILE`, the Swift client, or SQL:
              INSERT INTO ingest_jobs (source_uri, options) VALUES ('/path/doc.pdf', '{"force": true}');
            Several daemons can share one queue. Migrations are applied on start.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var flags: IngestFlags

    @Option(name: .customLong("watch"), help: ArgumentHelp("Queue new files appearing in this directory (repeatable).", valueName: "dir"))
    var watch: [String] = []

    @Option(name: .customLong("allow-root"), help: ArgumentHelp(
        "A directory queued files may be read from (repeatable; watched directories are allowed too). "
            + "Default: $COLPALI_ALLOWED_ROOTS (colon-separated). A queued path anywhere else is refused.",
        valueName: "dir"))
    var allowRoot: [String] = []

    @Option(help: "Seconds between queue polls when no notification arrives (and between directory scans).")
    var pollInterval: Double = 5

    @Option(help: "Seconds a claimed job stays ours without renewal; a crashed daemon's job is taken over after this.")
    var lease: Double = 30

    @Option(help: "Name recorded on claimed jobs (default hostname/pid).")
    var worker: String?

    /// --allow-root, else $COLPALI_ALLOWED_ROOTS.
    var allowedRoots: [String] {
        if !allowRoot.isEmpty { return allowRoot }
        let variable = ProcessInfo.processInfo.environment["COLPALI_ALLOWED_ROOTS"] ?? ""
        return variable.split(separator: ":").map(String.init)
    }

    func validate() throws {
        guard (0.05...3600).contains(pollInterval) else { throw ValidationError("--poll-interval must be between 0.05 and 3600 seconds") }
        guard (1...86400).contains(lease) else { throw ValidationError("--lease must be between 1 and 86400 seconds") }
        for directory in watch {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--watch \(directory) is not a directory")
            }
        }
        do { _ = try ReadableRoots(allowedRoots) } catch { throw ValidationError(String(describing: error)) }
    }

    func run() async throws {
        let logger = global.logger(label: "colpali-ingest", defaultLevel: .info)
        // The daemon brings the schema up to date itself (a no-op without DDL
        // when it is current, so a writer role can run it).
        let target = try global.target()
        let database: ConnectionSettings
        switch target {
        case .local:
            database = try await global.open(.createIfNeeded, command: "colpali-ingest", logger: logger)
        case .server(let settings):
            database = settings
            let migrator = Migrator(migrations: try Migration.load(from: Migration.locateDirectory()), logger: logger)
            _ = try await Retry.connectionFailures(logger: logger, what: "migrating") { try await migrator.migrate(database) }
        }

        let model = try await modelOptions.loadModel()
        // One pool for the daemon's work; it runs as a service beside it.
        let client = Database.makeClient(database, maximumConnections: 4, logger: logger)
        let ingestor = Ingestor(model: model, promptFormat: try modelOptions.resolvedPromptFormat(),
                                batchSize: flags.batchSize, client: client, logger: logger)
        var settings = IngestDaemon.Settings()
        settings.pollInterval = .milliseconds(Int(pollInterval * 1000))
        settings.lease = .milliseconds(Int(lease * 1000))
        if let worker { settings.worker = worker }
        settings.watch = watch
        settings.allowedRoots = allowedRoots
        settings.defaults = try flags.options()
        let daemon = IngestDaemon(ingestor: ingestor, database: database, settings: settings, logger: logger)
        // Shut down in reverse order: the daemon releases its job, then the pool closes.
        let group = ServiceGroup(configuration: .init(services: [client, daemon], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
