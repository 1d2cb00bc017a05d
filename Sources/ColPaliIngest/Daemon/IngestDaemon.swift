import ColPaliStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import ServiceLifecycle

/// `colpali-ingest run`: takes jobs from the `ingest_jobs` queue until told
/// to stop. Wakes on LISTEN/NOTIFY, polls as a fallback, optionally watches
/// directories. On SIGTERM/SIGINT it stops at the next page batch, gives the
/// current job back to the queue, and exits.
public struct IngestDaemon: Service {
    public struct Settings: Sendable {
        public var pollInterval: Duration = .seconds(5)
        public var lease: Duration = .seconds(30)
        public var worker: String = JobQueue.defaultWorkerName
        public var watch: [String] = []
        /// Where queued files may be read from; the watched directories are
        /// added when the daemon starts. Empty: every queued file is refused.
        public var allowedRoots: [String] = []
        public var defaults = IngestOptions()

        public init() {}
    }

    let ingestor: Ingestor
    let database: ConnectionSettings
    let settings: Settings
    let logger: Logger

    public init(ingestor: Ingestor, database: ConnectionSettings, settings: Settings, logger: Logger) {
        self.ingestor = ingestor
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        let state = DaemonState()
        let queue = JobQueue(worker: settings.worker, lease: settings.lease, logger: logger)
        let roots = try ReadableRoots(settings.watch + settings.allowedRoots)
        logger.info("ingest daemon started", metadata: [
            "worker": "\(settings.worker)", "model": "\(ingestor.model.identifier)", "collection": "\(settings.defaults.collection)",
            "prompt_format": "\(ingestor.promptFormat.rawValue)", "watch": "\(settings.watch)",
            "readable": "\(roots.directories)"])
        if roots.directories.isEmpty {
            logger.warning("no --watch or --allow-root: every queued file will be refused")
        }
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await listen(state) }
                for directory in settings.watch {
                    let watcher = DirectoryWatcher(directory: directory, client: ingestor.client, interval: settings.pollInterval,
                                                   logger: logger)
                    group.addTask { await watcher.run(state: state) }
                }
                try await work(queue: queue, roots: roots, state: state)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            logger.info("shutting down: finishing or releasing the current job")
            state.stop()
        }
        logger.info("ingest daemon stopped")
    }

    private func work(queue: JobQueue, roots: ReadableRoots, state: DaemonState) async throws {
        while !state.stopping {
            let claimed = try await Retry.connectionFailures(logger: logger, what: "claiming a job", shouldStop: { state.stopping }) {
                try await ingestor.client.withConnection { c in try await queue.claim(on: c) }
            }
            guard let job = claimed else {
                await state.wait(timeout: settings.pollInterval)
                continue
            }
            await process(job, queue: queue, roots: roots, state: state)
        }
    }

    private func process(_ job: IngestJob, queue: JobQueue, roots: ReadableRoots, state: DaemonState) async {
        let path = SourceURI.path(of: job.sourceURI)
        let claim = job.claim
        let lost = NIOLockedValueBox(false)
        let shouldStop: @Sendable () -> Bool = { state.stopping || lost.withLockedValue { $0 } }
        // The job changes state in the same transaction that records the
        // document, or, when there is none, right after.
        let logger = self.logger
        let hooks = OutcomeHooks(
            stored: { id, c in try await JobQueue.complete(claim, documentID: id, on: c, logger: logger) },
            failed: { id, reason, c in try await JobQueue.fail(claim, error: reason, documentID: id, on: c, logger: logger) })
        logger.info("claimed job", metadata: ["job": "\(claim.id)", "source": "\(path)", "attempt": "\(job.attempts)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await keepLease(claim, queue: queue, lost: lost, state: state) }
            do {
                let options = try settings.defaults.applying(jobJSON: job.optionsJSON)
                let outcome: IngestOutcome
                do {
                    // Only files under the allowed roots are read at all.
                    let source = try roots.read(path)
                    outcome = try await ingestor.ingest(source, options: options, hooks: hooks, shouldStop: shouldStop)
                } catch let error as SourceFile.ReadError {
                    outcome = .failed(documentID: nil, reason: error.description)
                }
                switch outcome {
                case .alreadyStored(let id), .updated(let id):
                    try await ingestor.withDatabase("completing the job", shouldStop: shouldStop) { c in
                        try await JobQueue.complete(claim, documentID: id, on: c, logger: logger)
                    }
                case .failed(nil, let reason):
                    try await ingestor.withDatabase("failing the job", shouldStop: shouldStop) { c in
                        try await JobQueue.fail(claim, error: reason, on: c, logger: logger)
                    }
                case .stored, .addedPages, .failed:
                    break  // changed with the document
                }
                if case .failed(_, let reason) = outcome {
                    logger.warning("job failed", metadata: ["job": "\(claim.id)", "reason": "\(reason)"])
                } else {
                    logger.info("job finished", metadata: ["job": "\(claim.id)", "outcome": "\(outcome)"])
                }
            } catch is IngestInterrupted {
                if lost.withLockedValue({ $0 }) {
                    logger.warning("lost the job's lease; another worker has it", metadata: ["job": "\(claim.id)"])
                } else {
                    await giveBack(claim, queue: queue)
                }
            } catch DocumentStoreError.leaseLost {
                logger.warning("lost the job's lease; result discarded", metadata: ["job": "\(claim.id)"])
            } catch let error as IngestOptions.OptionError {
                await failJob(claim, reason: "invalid job options: \(error)")
            } catch let error as CollectionError {
                await failJob(claim, reason: error.description)
            } catch {
                if state.stopping && Retry.isConnectionFailure(error) {
                    // The lease will expire and the job will be retried.
                    logger.warning("stopping with the database unreachable", metadata: ["job": "\(claim.id)"])
                } else {
                    await failJob(claim, reason: DatabaseErrors.describe(error))
                }
            }
            group.cancelAll()
        }
    }

    /// Renews the lease at a third of its length until the job ends.
    private func keepLease(_ claim: JobClaim, queue: JobQueue, lost: NIOLockedValueBox<Bool>, state: DaemonState) async {
        let interval = settings.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                let ours = try await ingestor.client.withConnection { c in try await queue.renew(claim, on: c) }
                if !ours {
                    lost.withLockedValue { $0 = true }
                    return
                }
            } catch {
                logger.warning("could not renew the lease", metadata: ["job": "\(claim.id)", "error": "\(DatabaseErrors.describe(error))"])
            }
        }
    }

    private func giveBack(_ claim: JobClaim, queue: JobQueue) async {
        do {
            try await ingestor.client.withConnection { c in try await queue.release(claim, on: c) }
            logger.info("released job back to the queue", metadata: ["job": "\(claim.id)"])
        } catch {
            logger.warning("could not release the job; it is retried when its lease expires",
                           metadata: ["job": "\(claim.id)", "error": "\(DatabaseErrors.describe(error))"])
        }
    }

    private func failJob(_ claim: JobClaim, reason: String) async {
        logger.error("job failed", metadata: ["job": "\(claim.id)", "reason": "\(reason)"])
        let logger = self.logger
        _ = try? await ingestor.client.withConnection { c in try await JobQueue.fail(claim, error: reason, on: c, logger: logger) }
    }

    /// Wakes the work loop whenever a job is inserted; reconnects if the
    /// listening connection drops.
    private func listen(_ state: DaemonState) async {
        while !state.stopping && !Task.isCancelled {
            do {
                try await Database.withConnection(database, logger: logger) { c in
                    try await c.listen(on: JobQueue.channel) { notifications in
                        for try await _ in notifications { state.wake() }
                    }
                }
            } catch {
                if Task.isCancelled || state.stopping { return }
                logger.debug("notification listener reconnecting", metadata: ["error": "\(DatabaseErrors.describe(error))"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }
}
