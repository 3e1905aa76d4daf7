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
    private let observer = Mutex<CommitObserver?>(nil)

    package init() {}

    package func install(_ new: CommitObserver?) { observer.withLock { $0 = new } }

    package func report(_ duration: Duration, writes: Int) {
        guard let observer = observer.withLock({ $0 }) else { return }
        observer(duration, writes)
    }
}
