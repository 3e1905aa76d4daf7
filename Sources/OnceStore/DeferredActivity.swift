import GRDB
import OnceCore
import Synchronization

/// The counters and feed rows of transitions that were answered from a read (a duplicate
/// check-lock, a `polling` lease: nothing of the lease or lock changes), waiting to be written.
///
/// They are written by the group-commit writer in its next transaction, counters summed per
/// account and day. Until then they live only in this process: a crash loses them (counters,
/// daily metrics and feed rows only; never a lease or a check-lock, which are never deferred).
/// Readers of counters and the feed in this process flush first, so they see their own
/// requests. Bounded: when ``capacity`` entries wait, transitions take the write path instead.
final class DeferredActivity: Sendable {
    struct Entry: Sendable {
        var accountId: Int64
        var now: Timestamp
        var requestId: String?
        var effects: Effects
    }

    struct UsageAddress: Hashable {
        var accountId: Int64
        var month: String
        var kind: UsageKind
    }

    private struct State {
        var entries: [Entry] = []
        var flushScheduled = false
        /// Usage of entries not yet known to be committed (taken ones included), so that
        /// readers can add it to the stored usage.
        var usage: [UsageAddress: Int64] = [:]
        /// Entries taken by a transaction that has not committed or failed yet.
        var taken = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 16_384) {
        self.capacity = capacity
    }

    /// Nothing waits and nothing is being written: readers may read without flushing.
    var isEmpty: Bool { state.withLock { $0.entries.isEmpty && $0.taken == 0 } }

    /// Keeps `entry` for the next flush. Returns nil when full (the caller writes instead),
    /// else whether the caller must schedule a flush (none is scheduled yet).
    func add(_ entry: Entry) -> Bool? {
        state.withLock { state -> Bool? in
            guard state.entries.count < capacity else { return nil }
            state.entries.append(entry)
            Self.count(entry, into: &state.usage, sign: 1)
            if state.flushScheduled { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// Takes everything waiting (in the writer's transaction); a later `add` schedules anew.
    func take() -> [Entry] {
        state.withLock { state in
            state.flushScheduled = false
            state.taken += state.entries.count
            defer { state.entries = [] }
            return state.entries
        }
    }

    /// Usage deferred and not yet committed for this address.
    func pendingUsage(accountId: Int64, month: String, kind: UsageKind) -> Int64 {
        state.withLock { $0.usage[UsageAddress(accountId: accountId, month: month, kind: kind)] ?? 0 }
    }

    /// The taken `entries` are committed: the stored usage includes them now.
    func committed(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        state.withLock { state in
            state.taken -= entries.count
            for entry in entries { Self.count(entry, into: &state.usage, sign: -1) }
            state.usage = state.usage.filter { $0.value != 0 }
        }
    }

    private static func count(_ entry: Entry, into usage: inout [UsageAddress: Int64], sign: Int64) {
        let month = entry.now.month
        let c = entry.effects.counters
        if c.makeUsage != 0 {
            usage[UsageAddress(accountId: entry.accountId, month: month, kind: .make), default: 0] += sign * c.makeUsage
        }
        if c.aiUsage != 0 {
            usage[UsageAddress(accountId: entry.accountId, month: month, kind: .ai), default: 0] += sign * c.aiUsage
        }
    }

    /// Puts back what a failed flush took, ahead of newer entries.
    func restore(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        state.withLock {
            $0.taken -= entries.count
            $0.entries = entries + $0.entries
        }
    }

    /// Writes `entries` in the caller's transaction: one counter upsert per account and day,
    /// one row per feed event (with its own request id and time).
    static func persist(_ entries: [Entry], _ db: Database) throws {
        struct Day: Hashable {
            var accountId: Int64
            var day: String
        }
        var sums: [Day: (now: Timestamp, counters: CounterDelta)] = [:]
        var order: [Day] = []
        for entry in entries {
            let day = Day(accountId: entry.accountId, day: entry.now.day)
            if let sum = sums[day] {
                sums[day] = (sum.now, sum.counters + entry.effects.counters)
            } else {
                sums[day] = (entry.now, entry.effects.counters)
                order.append(day)
            }
            if !entry.effects.feed.isEmpty {
                var feed = Effects()
                feed.feed = entry.effects.feed
                try EffectsWriter.persist(
                    feed, db, accountId: entry.accountId, now: entry.now, requestId: entry.requestId)
            }
        }
        for day in order {
            guard let sum = sums[day], !sum.counters.isZero else { continue }
            var counters = Effects()
            counters.counters = sum.counters
            try EffectsWriter.persist(counters, db, accountId: day.accountId, now: sum.now, requestId: nil)
        }
    }
}
