import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// How much of the machine the model uses, and a helper to split work across
/// that many threads.
public struct ComputeContext: Sendable {
    public let threads: Int

    public init(threads: Int? = nil) {
        let environment = ProcessInfo.processInfo.environment
        let requested = threads ?? environment["COLPALI_THREADS"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
        self.threads = max(1, requested)
        openblas_set_num_threads(Int32(self.threads))
    }

    /// Calls body(begin, end) on disjoint chunks covering 0..<count, in
    /// parallel on at most `threads` threads: `chunksPerThread` chunks per
    /// thread, each thread taking the next chunk as it becomes free. Waiting
    /// threads sleep (libdispatch), never spin, so another process on the
    /// same cores slows the pass in proportion. With one thread the body runs
    /// once, over everything, on the caller's thread.
    package func parallel(_ count: Int, minimumChunk: Int = 1, chunksPerThread: Int = 1, _ body: (Int, Int) -> Void) {
        parallelByWorker(count, minimumChunk: minimumChunk, chunksPerThread: chunksPerThread) { _, begin, end in
            body(begin, end)
        }
    }

    /// `parallel`, also telling each chunk which worker runs it: an index
    /// below `threads`, the same for every chunk one thread takes, so that
    /// chunks with the same worker never run at once (per-worker scratch).
    package func parallelByWorker(_ count: Int, minimumChunk: Int = 1, chunksPerThread: Int = 1,
                                  _ body: (_ worker: Int, _ begin: Int, _ end: Int) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads * max(1, chunksPerThread), max(1, count / max(1, minimumChunk)))
        if chunks == 1 || threads == 1 {
            body(0, 0, count)
            return
        }
        // concurrentPerform would run as many iterations at once as the
        // machine has cores, whatever `threads` says: it gets one iteration
        // per thread, and each iteration takes chunks from a shared counter.
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let shared = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: min(threads, chunks)) { worker in
                while true {
                    let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard chunk < chunks else { return }
                    shared.value(worker, count * chunk / chunks, count * (chunk + 1) / chunks)
                }
            }
        }
    }
}

/// A value crossing into concurrentPerform, whose closure is not escaping:
/// every chunk finishes before `parallel` returns.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
