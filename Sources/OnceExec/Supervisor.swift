import Foundation
import OnceCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the child under a ``SupervisorMachine``: feeds it the clock, renewal answers,
/// signals and the child's exit, one event at a time, and carries out its actions.
///
/// Everything it starts lives in task groups scoped to ``run()``: the child waiter, the
/// timers and the renewals in an inner group that is cancelled when the child has exited,
/// the timeline poster in an outer one that ends before ``run()`` returns. Posts start after
/// ``postHold`` (an ``EventOutbox``); what is not posted when the child exits is returned, to
/// travel with the finish.
@MainActor
struct Supervisor {
    enum Event: Sendable {
        /// A timer armed for `wake` fired.
        case tick(wake: Duration)
        case signal(Int32)
        case renewed(sentAt: Duration)
        case rejected(sentAt: Duration, String)
        case renewFailed(sentAt: Duration, String)
        case exited(ExitStatus)
    }

    let machine: SupervisorMachine
    let start: ContinuousClock.Instant
    let backend: any LeaseBackend
    let key: String
    let lease: Lease?
    let runId: String
    let child: ChildProcess
    let reporter: Reporter
    let relay: SignalRelay
    /// Timeline events from before the supervision (`child_spawned`), posted first.
    let initialEvents: [RunEvent]

    /// How long the timeline events wait before they are posted. A child that ends sooner
    /// (most cron jobs' `true`-like checks) has them sent with the finish instead; a longer one
    /// gets them on the timeline while it runs.
    static let postHold = Duration.seconds(1)

    /// Supervises until the child exits; returns the machine in its exited state (its
    /// ``SupervisorMachine/finish`` says how to finish the lease) and the timeline events not
    /// posted by then, in order, for the finish to carry.
    func run() async -> (machine: SupervisorMachine, unposted: [RunEvent]) {
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let outbox = EventOutbox()
        let backend = self.backend
        let runId = self.runId
        return await withDiscardingTaskGroup(returning: (machine: SupervisorMachine, unposted: [RunEvent]).self) {
            posts in
            // One poster, in order: the timeline reads as the run happened.
            posts.addTask {
                while let event = await outbox.next() { await backend.record(runId: runId, event: event) }
            }
            initialEvents.forEach(outbox.add)
            let machine = await withDiscardingTaskGroup(returning: SupervisorMachine.self) { group in
                // Cancelled with the group when the child has exited: then nothing opens it.
                let opensAt = ContinuousClock.now.advanced(by: Self.postHold)
                group.addTask {
                    guard (try? await Task.sleep(until: opensAt, clock: .continuous)) != nil else { return }
                    outbox.open()
                }
                return await supervise(events: events, sink: sink, outbox: outbox, group: &group)
            }
            // A post in flight ends in the group; the rest goes with the finish.
            return (machine, outbox.close())
        }
    }

    private func supervise(
        events: AsyncStream<Event>, sink: AsyncStream<Event>.Continuation, outbox: EventOutbox,
        group: inout DiscardingTaskGroup
    ) async -> SupervisorMachine {
        let clock = ContinuousClock()
        let start = self.start
        var now: Duration { start.duration(to: clock.now) }
        var machine = self.machine
        /// The earliest wake a timer is armed for; a later one fires as a harmless early tick.
        var armed: Duration?
        let child = self.child
        group.addTask { sink.yield(.exited(await child.waitForExit())) }
        for early in relay.attach({ sink.yield(.signal($0)) }) { sink.yield(.signal(early)) }
        defer { relay.detach() }

        func perform(_ actions: [SupervisorAction]) {
            for action in actions {
                switch action {
                case .signalGroup(let s):
                    child.signalGroup(s)
                case .renew(let sentAt):
                    guard let lease else { continue }
                    let backend = self.backend
                    group.addTask {
                        do {
                            switch try await backend.extend(key: lease.key, leaseId: lease.leaseId, ttl: lease.ttl) {
                            case .renewed: sink.yield(.renewed(sentAt: sentAt))
                            case .rejected(let why): sink.yield(.rejected(sentAt: sentAt, why))
                            }
                        } catch {
                            sink.yield(.renewFailed(sentAt: sentAt, "\(error)"))
                        }
                    }
                case .record(let kind, let detail):
                    switch kind {
                    case .leaseLost, .maxRuntime, .childKilled:
                        // Key and run id in the message: a cron mail must lead to `once-exec timeline`.
                        let label = "\(key) (run \(runId)): \(kind.rawValue)"
                        reporter.warn(detail.map { "\(label): \($0)" } ?? label)
                    case .renewalFailed, .renewedLate:
                        reporter.info(detail.map { "\(kind.rawValue): \($0)" } ?? kind.rawValue)
                    case .childSpawned, .signalForwarded, .childExited:
                        break
                    }
                    outbox.add(event(kind, detail: detail))
                case .finish:
                    // The caller finishes the lease once the posts are drained.
                    break
                }
            }
        }

        func schedule() {
            guard let wake = machine.nextWake else { return }
            if let armed, armed <= wake { return }
            armed = wake
            let deadline = start.advanced(by: wake)
            group.addTask {
                // Cancelled with the group when the child has exited.
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                sink.yield(.tick(wake: wake))
            }
        }

        perform(machine.tick(now: now))
        schedule()
        for await event in events {
            switch event {
            case .tick(let wake):
                if armed == wake { armed = nil }
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
            case .exited(let status):
                perform(machine.childExited(status, now: now))
            }
            if machine.finish != nil { break }
            schedule()
        }
        sink.finish()
        // Timers and a renewal still in flight are of no use now.
        group.cancelAll()
        return machine
    }

    func event(_ kind: ExecEventKind, detail: String?) -> RunEvent {
        RunEvent(
            runId: runId, type: kind.rawValue, ts: Timestamp.now, status: nil, leaseId: lease?.leaseId,
            message: detail)
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
