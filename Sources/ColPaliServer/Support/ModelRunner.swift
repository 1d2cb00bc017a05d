import Foundation

/// Runs the model's forward passes one at a time on a thread of their own.
///
/// A forward pass takes seconds of CPU and already uses every core; run on
/// the threads that answer requests it would stall health checks and
/// searches by vector behind it, and two at once would only share the cores.
final class ModelRunner: Sendable {
    private let queue = DispatchQueue(label: "colpali.serve.model", qos: .userInitiated)

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
