import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The queue's guarantees, worker by worker: a lost lease, the attempts
/// limit, giving a job back.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct JobQueueTests {
    let logger = TestPostgres.logger

    func status(_ settings: ConnectionSettings) async throws -> String {
        try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT status || ' ' || attempts || ' ' || coalesce(claimed_by, '-') || ' ' || coalesce(error, '-') FROM ingest_jobs",
                              logger: logger).collect().first!.decode(String.self)
        }
    }

    @Test func anExpiredLeaseIsTakenOverAndTheOldHolderCanNeitherRenewNorComplete() async throws {
        let settings = try await TestPostgres.freshDatabase()
        // A lease no loaded machine outlives by accident; it runs out below
        // when the test moves its expiry into the past, as time would.
        let first = JobQueue(worker: "first", lease: .seconds(60), logger: logger)
        let second = JobQueue(worker: "second", lease: .seconds(30), logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await JobQueue.enqueue(sourceURI: "file:///inbox/a.pdf", on: c, logger: logger)
            let old = try #require(try await first.claim(on: c))
            #expect(old.claim.attempt == 1)
            // Still held: nobody else gets it.
            #expect(try await second.claim(on: c) == nil)
            try await c.query("UPDATE ingest_jobs SET lease_expires_at = now() - interval '1 second'", logger: logger)
            let new = try #require(try await second.claim(on: c))
            #expect(new.claim.id == old.claim.id && new.claim.attempt == 2)
            #expect(try await first.renew(old.claim, on: c) == false)
            await #expect(throws: DocumentStoreError.self) {
                try await JobQueue.complete(old.claim, documentID: nil, on: c, logger: logger)
            }
            // A failure reported by the old holder changes nothing either.
            try await JobQueue.fail(old.claim, error: "stale", on: c, logger: logger)
            #expect(try await second.renew(new.claim, on: c))
            try await JobQueue.complete(new.claim, documentID: nil, on: c, logger: logger)
        }
        #expect(try await status(settings) == "done 2 second -")
    }

    /// Same worker name, earlier attempt: the claim's attempt tells them apart.
    @Test func aReclaimUnderTheSameWorkerNameInvalidatesTheEarlierClaim() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let queue = JobQueue(worker: "ingest", lease: .milliseconds(300), logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await JobQueue.enqueue(sourceURI: "file:///inbox/a.pdf", on: c, logger: logger)
            let old = try #require(try await queue.claim(on: c))
            try await Task.sleep(for: .milliseconds(500))
            let new = try #require(try await queue.claim(on: c))
            #expect(try await queue.renew(old.claim, on: c) == false)
            await #expect(throws: DocumentStoreError.self) {
                try await JobQueue.complete(old.claim, documentID: nil, on: c, logger: logger)
            }
            try await JobQueue.complete(new.claim, documentID: nil, on: c, logger: logger)
        }
        #expect(try await status(settings) == "done 2 ingest -")
    }

    @Test func aJobThatKeepsDyingFailsAfterTheAttemptsLimit() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let queue = JobQueue(worker: "w", lease: .milliseconds(200), maximumAttempts: 2, logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await JobQueue.enqueue(sourceURI: "file:///inbox/poison.pdf", on: c, logger: logger)
            for attempt in 1...2 {
                let job = try #require(try await queue.claim(on: c))
                #expect(job.attempts == attempt)
                try await Task.sleep(for: .milliseconds(300))  // the worker "dies": its lease runs out
            }
            #expect(try await queue.claim(on: c) == nil)
        }
        #expect(try await status(settings) == "failed 3 w gave up after 2 attempts (each ended without a result)")
    }

    @Test func aReleasedJobIsClaimableAtOnceAndItsAttemptIsNotCounted() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let queue = JobQueue(worker: "w", lease: .seconds(30), logger: logger)
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await JobQueue.enqueue(sourceURI: "file:///inbox/a.pdf", on: c, logger: logger)
            let job = try #require(try await queue.claim(on: c))
            try await queue.release(job.claim, on: c)
            #expect(try await status(settings) == "queued 0 - -")
            let again = try #require(try await queue.claim(on: c))
            #expect(again.attempts == 1)
        }
    }
}
