import Foundation
import NIOConcurrencyHelpers

/// Shared between the daemon's tasks: whether to stop, and a way to wake
/// the work loop early (a notification arrived, a file was queued).
final class DaemonState: Sendable {
    private struct State {
        var stopping = false
        var pendingWake = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    var stopping: Bool { state.withLockedValue { $0.stopping } }

    func stop() {
        state.withLockedValue { $0.stopping = true }
        wake()
    }

    func wake() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            defer { s.waiter = nil }
            if s.waiter == nil { s.pendingWake = true }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Returns on a wake-up or after `timeout`, whichever is first.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLockedValue { s -> Bool in
                        if s.pendingWake || s.stopping {
                            s.pendingWake = false
                            return true
                        }
                        s.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.wake()
            }
            await group.next()
            group.cancelAll()
        }
        state.withLockedValue { $0.pendingWake = false }
    }
}
