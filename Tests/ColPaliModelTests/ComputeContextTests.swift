@testable import ColPaliModel
import Foundation
import Synchronization
import Testing

/// `threads` is a budget the user sets (COLPALI_THREADS, --threads) to leave
/// cores to Postgres or the renderer: the model's passes must keep to it.
struct ComputeContextTests {
    /// What one pass did: the chunks it ran, how many ran at once at most,
    /// and whether any ran off the caller's thread.
    final class Record: @unchecked Sendable {
        let lock = NSLock()
        var chunks: [Range<Int>] = []
        var running = 0
        var mostAtOnce = 0
        var offCaller = false
    }

    func run(threads: Int, count: Int, chunksPerThread: Int) -> Record {
        let record = Record()
        let caller = pthread_self()
        ComputeContext(threads: threads).parallel(count, chunksPerThread: chunksPerThread) { begin, end in
            record.lock.withLock {
                record.chunks.append(begin..<end)
                record.running += 1
                record.mostAtOnce = max(record.mostAtOnce, record.running)
                if pthread_equal(pthread_self(), caller) == 0 { record.offCaller = true }
            }
            usleep(20_000)  // long enough that free threads would overlap
            record.lock.withLock { record.running -= 1 }
        }
        return record
    }

    @Test func oneThreadRunsEverythingOnTheCallersThread() {
        let record = run(threads: 1, count: 1_000, chunksPerThread: 4)
        #expect(record.chunks == [0..<1_000])
        #expect(record.mostAtOnce == 1)
        #expect(!record.offCaller)
    }

    @Test func chunksCoverTheRangeOnceWithinTheThreadBudget() {
        let threads = 2
        let record = run(threads: threads, count: 1_001, chunksPerThread: 4)
        let sorted = record.chunks.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.count == threads * 4)
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == 1_001)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(record.mostAtOnce <= threads)
    }

    /// Per-worker scratch (the bf16 attention's) is safe only if a worker
    /// index is below `threads` and never runs two chunks at once.
    @Test(arguments: [1, 2, 3])
    func aWorkerIndexIsInTheBudgetAndRunsOneChunkAtATime(threads: Int) {
        let lock = NSLock()
        var running = [Int](repeating: 0, count: threads + 1)
        var overlapped = false, outside = false
        var covered = [Int](repeating: 0, count: 60)
        ComputeContext(threads: threads).parallelByWorker(60, chunksPerThread: 60) { worker, begin, end in
            lock.withLock {
                guard worker >= 0 && worker < threads else { outside = true; return }
                running[worker] += 1
                if running[worker] > 1 { overlapped = true }
                for i in begin..<end { covered[i] += 1 }
            }
            usleep(2_000)
            lock.withLock { if worker >= 0 && worker < threads { running[worker] -= 1 } }
        }
        #expect(!outside)
        #expect(!overlapped)
        #expect(covered.allSatisfy { $0 == 1 })
    }
}
