import OnceCore
import Synchronization

/// The timeline events of a supervised run on their way to the backend, in order.
///
/// They are held back at first (``open()`` ends the hold) and once the child has exited
/// (``close()``) whatever was not posted is handed back, to travel with the finish: a short
/// child's events then cost no round trip of their own, and a long one's are posted while it
/// runs, never after it exited (only a post already in flight is waited for).
package final class EventOutbox: Sendable {
    private struct State {
        var queue: [RunEvent] = []
        var open = false
        var closed = false
        /// The poster, waiting in ``next()``.
        var waiter: CheckedContinuation<RunEvent?, Never>?

        /// The waiter to resume and what to give it, if it can go on.
        mutating func ready() -> (CheckedContinuation<RunEvent?, Never>, RunEvent?)? {
            guard let waiter else { return nil }
            if closed {
                self.waiter = nil
                return (waiter, nil)
            }
            guard open, !queue.isEmpty else { return nil }
            self.waiter = nil
            return (waiter, queue.removeFirst())
        }
    }

    private let state = Mutex(State())

    package init() {}

    package func add(_ event: RunEvent) { update { if !$0.closed { $0.queue.append(event) } } }

    /// Ends the hold: events are posted from now on.
    package func open() { update { $0.open = true } }

    /// The child has exited: the poster stops, and the events it did not take are returned.
    package func close() -> [RunEvent] {
        var left: [RunEvent] = []
        update { s in
            s.closed = true
            left = s.queue
            s.queue = []
        }
        return left
    }

    /// The next event to post; nil once closed. One poster only.
    package func next() async -> RunEvent? {
        await withCheckedContinuation { continuation in
            update { s in
                precondition(s.waiter == nil, "one poster")
                s.waiter = continuation
            }
        }
    }

    /// Changes the state, then resumes the poster (outside the lock) if it can go on.
    private func update(_ change: (inout State) -> Void) {
        let resume = state.withLock { s in
            change(&s)
            return s.ready()
        }
        if let (waiter, event) = resume { waiter.resume(returning: event) }
    }
}
