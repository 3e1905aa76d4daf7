import GRDB
import Synchronization

/// Group commit for SQLite's one writer: concurrent write transactions share one `COMMIT` and
/// so one fsync.
///
/// Every write of ``SQLiteStore`` is submitted here. One drain loop at a time takes what has
/// queued up (at most ``maxBatch``) and runs it in one `BEGIN IMMEDIATE` transaction, each
/// request in its own savepoint: a request whose body throws is rolled back to its savepoint
/// and answered with its error, the others stay in the batch. Nobody is answered before the
/// `COMMIT` returned (with `synchronous=FULL`, after the fsync); when the commit fails, every
/// request in the batch gets its error. While one batch commits, the next one queues: the
/// busier the server, the more requests each fsync carries.
///
/// The queue is bounded (``capacity``): a request that finds it full is refused at once with
/// ``StoreError/unavailable(_:)`` (the server's 503 + `Retry-After`), so memory stays bounded
/// when the disk cannot keep up.
final class GroupCommitWriter: Sendable {
    /// A queued write: `run` executes the body inside the batch's transaction and returns how to
    /// answer once the batch committed; `fail` answers with an error instead.
    struct Pending: Sendable {
        let run: @Sendable (Database) throws -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private enum Admission { case queued, startDrain, refused }

    private struct State {
        var queue: [Pending] = []
        var draining = false
        /// Writes in the transaction running now.
        var inFlight = 0
        var statistics = GroupCommitStatistics()
    }

    let pool: DatabasePool
    let capacity: Int
    let maxBatch: Int
    /// Written first in every transaction, so that they precede every write submitted after
    /// them (the feed keeps the order requests were answered in).
    let deferred: DeferredActivity
    /// Told of every committed batch (once-server's commit metrics).
    let commits = CommitObserverSlot()
    private let state = Mutex(State())

    init(pool: DatabasePool, capacity: Int, maxBatch: Int, deferred: DeferredActivity) {
        self.pool = pool
        self.capacity = max(1, capacity)
        self.maxBatch = max(1, maxBatch)
        self.deferred = deferred
    }

    var statistics: GroupCommitStatistics { state.withLock { $0.statistics } }
    /// Writes waiting for the next transaction.
    var queued: Int { state.withLock { $0.queue.count } }
    /// Writes in the transaction running now.
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Runs `body` in the next batch's transaction; returns after that transaction committed.
    func submit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let pending = Pending(
                run: { db in
                    let value = try body(db)
                    return { continuation.resume(returning: value) }
                },
                fail: { continuation.resume(throwing: $0) })
            let admission = state.withLock { state -> Admission in
                guard state.queue.count < capacity else {
                    state.statistics.refused += 1
                    return .refused
                }
                state.queue.append(pending)
                if state.draining { return .queued }
                state.draining = true
                return .startDrain
            }
            switch admission {
            case .queued: break
            case .refused:
                continuation.resume(throwing: StoreError.unavailable("the writer's queue is full"))
            case .startDrain:
                // Not a child of the submitting request: the loop outlives it and serves every
                // request queued meanwhile, then ends when the queue is empty (`draining` is
                // reset under the same lock that admits, so no request is left unserved).
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                state.inFlight = 0
                guard !state.queue.isEmpty else {
                    state.draining = false
                    return []
                }
                let count = min(maxBatch, state.queue.count)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                state.inFlight = count
                return batch
            }
            guard !batch.isEmpty else { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [Pending]) async {
        // Only this loop takes deferred activity, so nothing else can take it meanwhile.
        let activity = deferred.take()
        let activityWritten: Bool
        let answers: [@Sendable () -> Void]
        let started = ContinuousClock.now
        do {
            let outcome = try await pool.write { db in
                var activityWritten = false
                if !activity.isEmpty {
                    do {
                        try db.inSavepoint {
                            try DeferredActivity.persist(activity, db)
                            return .commit
                        }
                        activityWritten = true
                    } catch {
                        guard db.isInsideTransaction else { throw error }
                    }
                }
                // One request alone needs no savepoint: its failure rolls the transaction back.
                if batch.count == 1 { return (activityWritten, [try batch[0].run(db)]) }
                var answers: [@Sendable () -> Void] = []
                answers.reserveCapacity(batch.count)
                for pending in batch {
                    var answer: (@Sendable () -> Void)?
                    do {
                        try db.inSavepoint {
                            answer = try pending.run(db)
                            return .commit
                        }
                    } catch {
                        // Some errors (a full disk, an I/O error) make SQLite roll back the whole
                        // transaction: then nothing of the batch is written and all must fail.
                        guard db.isInsideTransaction else { throw error }
                        answers.append { pending.fail(error) }
                        continue
                    }
                    if let answer { answers.append(answer) }
                }
                return (activityWritten, answers)
            }
            activityWritten = outcome.0
            answers = outcome.1
        } catch {
            deferred.restore(activity)
            state.withLock {
                $0.statistics.batches += 1
                $0.statistics.failedBatches += 1
            }
            for pending in batch { pending.fail(error) }
            return
        }
        commits.report(ContinuousClock.now - started, writes: batch.count)
        if activityWritten { deferred.committed(activity) } else { deferred.restore(activity) }
        state.withLock {
            $0.statistics.batches += 1
            $0.statistics.writes += batch.count
            $0.statistics.largestBatch = max($0.statistics.largestBatch, batch.count)
            if activityWritten { $0.statistics.deferredWritten += activity.count }
        }
        // Committed: only now may anyone learn the outcome.
        for answer in answers { answer() }
    }
}

/// What the group-commit writer has done so far (for tests and diagnostics).
package struct GroupCommitStatistics: Sendable, Equatable {
    /// Transactions run, failed ones included.
    package var batches = 0
    /// Writes in committed transactions.
    package var writes = 0
    package var largestBatch = 0
    package var failedBatches = 0
    /// Writes refused because the queue was full.
    package var refused = 0
    /// Deferred activity entries (counters and feed rows of read-only answers) written.
    package var deferredWritten = 0
}
