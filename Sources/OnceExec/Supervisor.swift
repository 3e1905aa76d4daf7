import Foundation
import OnceCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the child under a ``SupervisorMachine``: feeds it the clock, renewal answers,
/// signals and the child's exit, one event at a time, and carries out its actions.
@MainActor
final class Supervisor {
    enum Event: Sendable {
        case tick
        case signal(Int32)
        case renewed(sentAt: Duration)
        case rejected(sentAt: Duration, String)
        case renewFailed(sentAt: Duration, String)
        case exited(ExitStatus)
    }

    private var machine: SupervisorMachine
    private let backend: any LeaseBackend
    private let lease: Lease?
    private let key: String
    private let runId: String
    private let child: ChildProcess
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let reporter: Reporter
    private let relay: SignalRelay
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private var timer: Task<Void, Never>?
    private var pending: [Task<Void, Never>] = []

    init(
        machine: SupervisorMachine, start: ContinuousClock.Instant, backend: any LeaseBackend, key: String,
        lease: Lease?, runId: String, child: ChildProcess, reporter: Reporter, relay: SignalRelay
    ) {
        self.key = key
        self.relay = relay
        self.machine = machine
        self.start = start
        self.backend = backend
        self.lease = lease
        self.runId = runId
        self.child = child
        self.reporter = reporter
        (events, sink) = AsyncStream.makeStream(of: Event.self)
    }

    private var now: Duration { start.duration(to: clock.now) }

    /// Supervises until the child exits; returns how it ended and the machine's final state.
    func run() async -> (ExitStatus, SupervisorMachine) {
        let sink = self.sink
        for early in relay.attach({ sink.yield(.signal($0)) }) { sink.yield(.signal(early)) }
        let child = self.child
        Task.detached { sink.yield(.exited(await child.waitForExit())) }
        perform(machine.tick(now: now))
        schedule()
        var status = ExitStatus.exited(255)
        for await event in events {
            let now = self.now
            switch event {
            case .tick:
                perform(machine.tick(now: now))
            case .signal(let s):
                perform(machine.signalReceived(s, now: now))
            case .renewed(let sentAt):
                perform(machine.renewalSucceeded(sentAt: sentAt, now: now))
            case .rejected(let sentAt, let why):
                reporter.warn("lease renewal refused: \(why)")
                perform(machine.renewalRejected(sentAt: sentAt, now: now))
            case .renewFailed(let sentAt, let why):
                perform(machine.renewalFailed(sentAt: sentAt, now: now, error: why))
            case .exited(let s):
                // Deadlines first, even now: a lease that lapsed while we were paused is reported.
                perform(machine.tick(now: now).filter { if case .renew = $0 { false } else { true } })
                machine.childExited(now: now)
                status = s
            }
            if machine.phase == .exited { break }
            schedule()
        }
        timer?.cancel()
        relay.detach()
        for task in pending { await task.value }
        return (status, machine)
    }

    private func schedule() {
        timer?.cancel()
        guard let wake = machine.nextWake else { return }
        let deadline = start.advanced(by: wake)
        let sink = self.sink
        timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            if !Task.isCancelled { sink.yield(.tick) }
        }
    }

    private func perform(_ actions: [SupervisorAction]) {
        for action in actions {
            switch action {
            case .signalGroup(let s):
                child.signalGroup(s)
            case .renew(let sentAt):
                guard let lease else { continue }
                let backend = self.backend
                let sink = self.sink
                pending.append(
                    Task.detached {
                        do {
                            switch try await backend.extend(key: lease.key, leaseId: lease.leaseId, ttl: lease.ttl) {
                            case .renewed: sink.yield(.renewed(sentAt: sentAt))
                            case .rejected(let why): sink.yield(.rejected(sentAt: sentAt, why))
                            }
                        } catch {
                            sink.yield(.renewFailed(sentAt: sentAt, "\(error)"))
                        }
                    })
            case .record(let kind, let detail):
                switch kind {
                case .leaseLost, .maxRuntime, .childKilled:
                    // Key and run id in the message: a cron mail must lead to `once-exec timeline`.
                    let label = "\(key) (run \(runId)): \(kind.rawValue)"
                    reporter.warn(detail.map { "\(label): \($0)" } ?? label)
                case .renewalFailed, .renewedLate:
                    reporter.info(detail.map { "\(kind.rawValue): \($0)" } ?? kind.rawValue)
                default:
                    break
                }
                recordEvent(kind, detail: detail)
            }
        }
    }

    func recordEvent(_ kind: ExecEventKind, detail: String?) {
        let backend = self.backend
        let event = RunEvent(
            runId: runId, type: kind.rawValue, ts: Timestamp.now, status: nil, leaseId: lease?.leaseId, message: detail)
        let runId = self.runId
        pending.append(Task.detached { await backend.record(runId: runId, event: event) })
    }
}

extension Timestamp {
    static var now: Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
}

/// Messages to the user on stderr, one line each, prefixed `once-exec:`.
struct Reporter: Sendable {
    var quiet: Bool
    var verbose: Bool

    func warn(_ message: String) { write("once-exec: \(message)\n") }

    func info(_ message: String) {
        if verbose { write("once-exec: \(message)\n") }
    }

    func note(_ message: String) {
        if !quiet { write("once-exec: \(message)\n") }
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
