import COnceSpawn
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Catches the signals once-exec forwards to its child's group. The sources are made in a
/// plain (non-main-actor) function: a handler closure created in top-level code crashes on
/// the first signal under Swift 6.
///
/// `@unchecked Sendable` is safe: its only state is an immutable array, set in `init`, of
/// dispatch sources, whose `cancel()` is thread-safe (libdispatch's own guarantee; the
/// `DispatchSourceSignal` protocol is just not annotated).
package final class SignalForwarder: @unchecked Sendable {
    package static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    private let sources: [any DispatchSourceSignal]

    /// Saves the dispositions the child should get, then takes the signals over.
    package static func prepare() {
        once_signals_save()
        for s in forwarded { once_signal_ignore(s) }
        // A reader of our output going away must not kill once-exec before it records the run.
        once_signal_ignore(SIGPIPE)
    }

    package init(onSignal: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "once-exec.signals")
        sources = Self.forwarded.map { s in
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler { onSignal(s) }
            source.resume()
            return source
        }
    }

    package func cancel() { sources.forEach { $0.cancel() } }
}

/// Where forwarded signals go: held until the supervisor attaches (a signal that arrives while
/// once-exec waits for a key or before the child starts means "stop now"), then passed on.
package final class SignalRelay: Sendable {
    private struct State {
        var pending: [Int32] = []
        var handler: (@Sendable (Int32) -> Void)?
    }
    private let state = Mutex(State())

    package init() {}

    package func deliver(_ signal: Int32) {
        let handler: (@Sendable (Int32) -> Void)? = state.withLock { s in
            if s.handler == nil { s.pending.append(signal) }
            return s.handler
        }
        handler?(signal)
    }

    /// The first signal received while nothing was attached.
    package var pending: Int32? { state.withLock { $0.pending.first } }

    /// Routes signals to `handler` from now on; returns those that arrived before.
    func attach(_ handler: @escaping @Sendable (Int32) -> Void) -> [Int32] {
        state.withLock { s in
            s.handler = handler
            defer { s.pending = [] }
            return s.pending
        }
    }

    func detach() { state.withLock { $0.handler = nil } }
}
