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

    public let limit: Limit
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])
    /// Buckets beyond this trigger a sweep of the full ones.
    static let sweepThreshold = 10_000

    public init(limit: Limit) { self.limit = limit }

    /// nil when the request may go ahead; otherwise how long until it may.
    public func admit(_ caller: String, now: ContinuousClock.Instant = .now) -> Duration? {
        buckets.withLockedValue { buckets in
            var bucket = buckets[caller] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = Double((now - bucket.updated).components.seconds)
                + Double((now - bucket.updated).components.attoseconds) / 1e18
            bucket.tokens = min(limit.burst, bucket.tokens + max(elapsed, 0) * limit.perSecond)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[caller] = bucket
                if buckets.count > Self.sweepThreshold { sweep(&buckets, now: now) }
                return nil
            }
            buckets[caller] = bucket
            return .milliseconds(Int64(((1 - bucket.tokens) / limit.perSecond * 1000).rounded(.up)))
        }
    }

    private func sweep(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        let refill = Duration.milliseconds(Int64(limit.burst / limit.perSecond * 1000) + 1)
        buckets = buckets.filter { now - $0.value.updated < refill }
    }

    var trackedCallers: Int { buckets.withLockedValue { $0.count } }
}
