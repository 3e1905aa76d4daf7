import Synchronization

/// A token bucket per API key (API §1.3, §15 row 34): `rate` tokens a second refill a bucket
/// of `burst`; a request takes one. Kept in this process's memory, so each replica limits on
/// its own: behind N replicas a key may get up to N times the rate.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let rate: Double
    let burst: Double
    private let buckets = Mutex<[Int64: Bucket]>([:])
    private let clock = ContinuousClock()

    /// nil when `rate` is 0 (limiting off).
    init?(rate: Double, burst: Int) {
        guard rate > 0 else { return nil }
        self.rate = rate
        self.burst = Double(max(burst, 1))
    }

    /// Takes a token for `keyId`: nil when the request may go on, else the whole seconds to
    /// wait before the next token (at least 1, as `Retry-After` is an integer).
    func take(_ keyId: Int64) -> Int? {
        let now = clock.now
        return buckets.withLock { buckets in
            var bucket = buckets[keyId] ?? Bucket(tokens: burst, updated: now)
            let elapsed = bucket.updated.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer {
                // A full bucket is the same as none: forget it, so idle keys cost no memory.
                if bucket.tokens >= burst { buckets[keyId] = nil } else { buckets[keyId] = bucket }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
