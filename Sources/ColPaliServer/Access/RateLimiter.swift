import NIOConcurrencyHelpers

/// Requests per second per caller, as a token bucket: `burst` requests at
/// once, refilled at `perSecond`. Callers are keyed by API key name, or by
/// address when anonymous. Buckets idle long enough to be full again are
/// forgotten, so memory stays bounded by the callers of the last moments.
public final class RateLimiter: Sendable {
    public struct Limit: Sendable, Equatable {
        public var perSecond: Double
        public var burst: Double
        public init(perSecond: Double, burst: Double? = nil) {
            self.perSecond = perSecond
            self.burst = burst ?? max(perSecond * 2, 1)
        }
    }

    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    struct State {
        var buckets: [String: Bucket] = [:]
        var lastSweep: ContinuousClock.Instant?
    }

    public let limit: Limit
    private let state = NIOLockedValueBox(State())
    /// Buckets beyond this trigger a sweep of the full ones, at most once
    /// per refill time: many callers at once cost one pass, not one each.
    static let sweepThreshold = 10_000

    public init(limit: Limit) { self.limit = limit }

    /// nil when the request may go ahead; otherwise how long until it may.
    public func admit(_ caller: String, now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLockedValue { state in
            var bucket = state.buckets[caller] ?? Bucket(tokens: limit.burst, updated: now)
            bucket.tokens = min(limit.burst, bucket.tokens + max((now - bucket.updated).seconds, 0) * limit.perSecond)
            bucket.updated = now
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            state.buckets[caller] = bucket
            if state.buckets.count > Self.sweepThreshold { sweep(&state, now: now) }
            return admitted ? nil : .milliseconds(Int64(((1 - bucket.tokens) / limit.perSecond * 1000).rounded(.up)))
        }
    }

    /// Forgets the buckets full again: their callers start afresh anyway.
    private func sweep(_ state: inout State, now: ContinuousClock.Instant) {
        let refill = Duration.milliseconds(Int64(limit.burst / limit.perSecond * 1000) + 1)
        if let last = state.lastSweep, now - last < refill { return }
        state.lastSweep = now
        state.buckets = state.buckets.filter { now - $0.value.updated < refill }
    }

    var trackedCallers: Int { state.withLockedValue { $0.buckets.count } }
}
