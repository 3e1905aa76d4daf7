import Synchronization

/// Learns of every write transaction a store committed: how long it took, from the start of the
/// transaction to the return of its `COMMIT`, and how many requests' writes it carried (one on
/// PostgreSQL, where each request has its own transaction; up to the batch limit under
/// SQLite's group commit). once-server feeds its `once_store_commit_*` metrics from it.
public typealias CommitObserver = @Sendable (_ duration: Duration, _ writes: Int) -> Void

/// The observer a store reports to, installed after the store opened (the server makes its
/// metrics later than its store). Reading it costs one uncontended lock per commit, not per
/// request.
package final class CommitObserverSlot: Sendable {
    /// The closure in a class of its own: kept in the generic `Mutex` as a closure, it was
    /// re-abstracted on every read, and `perf` showed chains of those thunks in the commit path.
    private final class Box: Sendable {
        let observer: CommitObserver
        init(_ observer: @escaping CommitObserver) { self.observer = observer }
    }

    private let box = Mutex<Box?>(nil)

    package init() {}

    package func install(_ new: CommitObserver?) {
        let boxed = new.map(Box.init)
        box.withLock { $0 = boxed }
    }

    package func report(_ duration: Duration, writes: Int) {
        guard let current = box.withLock({ $0 }) else { return }
        current.observer(duration, writes)
    }
}
