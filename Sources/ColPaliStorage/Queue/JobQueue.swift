import Foundation
import Logging
import PostgresNIO

/// A job a worker holds: its id, who holds it and which attempt this is.
/// All three are checked on renewal and completion, so a worker whose lease
/// was taken over cannot complete the job, even when the new holder happens
/// to use the same worker name.
public struct JobClaim: Sendable, Equatable {
    public let id: Int
    public let worker: String
    public let attempt: Int
}

/// A claimed job with what to do.
public struct IngestJob: Sendable {
    public let claim: JobClaim
    public let sourceURI: String
    /// The job's options object, as JSON text.
    public let optionsJSON: String
    public let attempts: Int
}

/// The `ingest_jobs` queue (migration 0003).
public struct JobQueue: Sendable {
    public static let channel = "colpali_ingest"
    public let worker: String
    public let lease: Duration
    /// Claims beyond this many mark the job failed: a file that crashes every
    /// worker must not crash-loop the fleet.
    public let maximumAttempts: Int
    let logger: Logger

    public init(worker: String, lease: Duration = .seconds(30), maximumAttempts: Int = 5, logger: Logger) {
        self.worker = worker
        self.lease = lease
        self.maximumAttempts = maximumAttempts
        self.logger = logger
    }

    /// `hostname/pid`: who holds a job, for people reading the table.
    public static var defaultWorkerName: String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
    }

    var leaseSeconds: Double {
        Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
    }

    public static func enqueue(sourceURI: String, optionsJSON: String = "{}", on connection: PostgresConnection,
                               logger: Logger) async throws -> Int {
        try await connection.query("""
            INSERT INTO ingest_jobs (source_uri, options) VALUES (\(sourceURI), \(optionsJSON)::jsonb) RETURNING id
            """, logger: logger).collect().first!.decode(Int.self)
    }

    /// The oldest queued job, or a running one whose lease expired; nil when
    /// there is none. Concurrent claimers skip each other's rows.
    public func claim(on connection: PostgresConnection) async throws -> IngestJob? {
        while true {
            let rows = try await connection.query("""
                UPDATE ingest_jobs
                SET status = 'running', attempts = attempts + 1, claimed_by = \(worker),
                    lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
                WHERE id = (SELECT id FROM ingest_jobs
                            WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < now())
                            ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING id, source_uri, options::text, attempts
                """, logger: logger)
            var claimed: IngestJob?
            for try await (id, uri, options, attempts) in rows.decode((Int, String, String, Int).self) {
                claimed = IngestJob(claim: JobClaim(id: id, worker: worker, attempt: attempts), sourceURI: uri, optionsJSON: options,
                                    attempts: attempts)
            }
            guard let job = claimed else { return nil }
            if job.attempts > maximumAttempts {
                try await Self.fail(job.claim, error: "gave up after \(maximumAttempts) attempts (each ended without a result)",
                                    documentID: nil, on: connection, logger: logger)
                continue
            }
            return job
        }
    }

    /// Extends the lease; false when the job is no longer ours.
    public func renew(_ claim: JobClaim, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("""
            UPDATE ingest_jobs SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE id = \(claim.id) AND claimed_by = \(claim.worker) AND attempts = \(claim.attempt) AND status = 'running' RETURNING id
            """, logger: logger)
        return try await rows.collect().count == 1
    }

    /// Gives a job back untouched (shutdown): the next claim takes it at once.
    public func release(_ claim: JobClaim, on connection: PostgresConnection) async throws {
        _ = try await connection.query("""
            UPDATE ingest_jobs SET status = 'queued', claimed_by = NULL, lease_expires_at = NULL,
                                   attempts = greatest(attempts - 1, 0)
            WHERE id = \(claim.id) AND claimed_by = \(claim.worker) AND attempts = \(claim.attempt) AND status = 'running'
            """, logger: logger)
    }

    /// Marks the job done (with the document it produced or found already
    /// stored); DocumentStoreError.leaseLost when the job is no longer ours.
    public static func complete(_ claim: JobClaim, documentID: Int?, on connection: PostgresConnection,
                                logger: Logger) async throws {
        let rows = try await connection.query("""
            UPDATE ingest_jobs SET status = 'done', document_id = \(documentID), error = NULL, finished_at = now(),
                                   lease_expires_at = NULL
            WHERE id = \(claim.id) AND claimed_by = \(claim.worker) AND attempts = \(claim.attempt) AND status = 'running' RETURNING id
            """, logger: logger)
        if try await rows.collect().isEmpty { throw DocumentStoreError.leaseLost(job: claim.id) }
    }

    /// Marks the job failed with the reason (and the failed document, when
    /// one was recorded).
    public static func fail(_ claim: JobClaim, error: String, documentID: Int? = nil, on connection: PostgresConnection,
                            logger: Logger) async throws {
        _ = try await connection.query("""
            UPDATE ingest_jobs SET status = 'failed', error = \(error), document_id = \(documentID), finished_at = now(),
                                   lease_expires_at = NULL
            WHERE id = \(claim.id) AND claimed_by = \(claim.worker) AND attempts = \(claim.attempt) AND status = 'running'
            """, logger: logger)
    }
}
