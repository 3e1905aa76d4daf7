import OnceOnly

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Timing rules for one supervised run.
package struct SupervisorPolicy: Sendable, Equatable {
    /// The lease TTL the server granted.
    package var ttl: Duration
    /// Time between renewals (TTL/3 by default).
    package var heartbeat: Duration
    /// Grace between SIGTERM and SIGKILL when once-exec stops the child.
    package var killAfter: Duration
    /// Slack for network delay and clock-rate differences, kept back from the TTL.
    package var margin: Duration
    package var maxRuntime: Duration?
    package var onLeaseLost: LeaseLossPolicy
    /// False when running without a lease (`--if-unreachable run`): nothing to renew or lose.
    package var leased: Bool

    package init(
        ttl: Duration, heartbeat: Duration? = nil, killAfter: Duration, margin: Duration? = nil,
        maxRuntime: Duration? = nil, onLeaseLost: LeaseLossPolicy = .stop, leased: Bool = true
    ) {
        self.ttl = ttl
        self.heartbeat = heartbeat ?? ttl / 3
        self.killAfter = killAfter
        self.margin = margin ?? SupervisorPolicy.defaultMargin(ttl: ttl)
        self.maxRuntime = maxRuntime
        self.onLeaseLost = onLeaseLost
        self.leased = leased
    }

    /// max(1 s, TTL/10): the Chubby-style conservative local lease.
    package static func defaultMargin(ttl: Duration) -> Duration { max(.seconds(1), ttl / 10) }

    /// How long after a confirmed renewal was *sent* the child may run before SIGTERM, so that
    /// SIGKILL lands before the server could give the key to anyone else.
    package var safeWindow: Duration { ttl - killAfter - margin }
}

package enum LeaseLossPolicy: String, Sendable, CaseIterable, Codable {
    /// Stop the child's process group (SIGTERM, grace, SIGKILL).
    case stop
    /// Let the child finish, warn, and exit with the lease-lost code.
    case warn
}

/// Why once-exec stopped (or stops) the child.
package enum StopReason: Sendable, Equatable {
    case leaseLost(LeaseLossCause)
    case maxRuntime
    /// A signal to once-exec, forwarded to the child's group.
    case signal(Int32)
}

package enum LeaseLossCause: String, Sendable, Equatable {
    /// No renewal was confirmed in time (service unreachable, or once-exec was paused).
    case deadline
    /// The service refused a renewal: the lease is no longer this run's.
    case rejected
}

/// What the driver must do after an event.
package enum SupervisorAction: Sendable, Equatable {
    /// Send a renewal now; answer with `renewalSucceeded`, `renewalRejected` or `renewalFailed`
    /// carrying the same `sentAt`.
    case renew(sentAt: Duration)
    /// Signal the child's whole process group.
    case signalGroup(Int32)
    /// Record a run event (timeline) and, for warnings, tell the user.
    case record(ExecEventKind, detail: String?)
    /// The child exited: finish the lease this way, then answer with ``SupervisorMachine/settle(_:)``.
    case finish(FinishDecision)
}

/// Run-timeline event kinds once-exec writes (besides the server's own run_started/run_finished).
package enum ExecEventKind: String, Sendable, Equatable, CaseIterable {
    case childSpawned = "child_spawned"
    case renewedLate = "renewed_late"
    case renewalFailed = "renewal_failed"
    case signalForwarded = "signal_forwarded"
    case leaseLost = "lease_lost"
    case maxRuntime = "max_runtime_exceeded"
    case childKilled = "child_killed"
    case childExited = "child_exited"
}

/// How a supervised run is to be finished, decided by the machine when the child exits.
package enum FinishDecision: Sendable, Equatable {
    /// Ran without a lease (`--if-unreachable run`): there is nothing to record.
    case unleased
    /// Exit 0: complete the lease with the run record.
    case complete
    /// Fail the lease with this error code and the run record (`timedOut`: `--max-runtime`).
    case fail(errorCode: String, timedOut: Bool)
    /// Interrupted by a signal: cancel the lease, so the next run of KEY runs.
    case cancel(signal: Int32)
    /// The lease was lost (and the child stopped, or the service refused it): record the loss
    /// as a `lease_lost` failure once, best effort; the service may have given KEY away.
    case recordLost(LeaseLossCause)

    /// The run record's and history's `outcome` for this decision, before any answer.
    package var outcome: String {
        switch self {
        case .unleased, .complete: "completed"
        case .fail(_, let timedOut): timedOut ? "timeout" : "failed"
        case .cancel: "canceled"
        case .recordLost: "lost"
        }
    }

    package var errorCode: String? {
        switch self {
        case .unleased, .complete, .cancel: nil
        case .fail(let code, _): code
        case .recordLost: "lease_lost"
        }
    }
}

/// What the lease service said to the finish call (after its retries).
package enum FinishAnswer: Sendable, Equatable {
    case done
    /// The lease is not this run's any more.
    case rejected(String)
    /// No answer at all, every attempt failed.
    case noAnswer
}

/// How the run ends for the caller, once the finish call was answered.
package enum RunEnd: Sendable, Equatable {
    /// Recorded as decided (or nothing to record): the child's own exit status is the wrapper's.
    case recorded
    /// `--max-runtime` stopped the child (recorded, or not answered).
    case timedOut
    /// The lease was lost while the child ran.
    case lost(LeaseLossCause)
    /// The service refused to record the end: the lease was lost before the run ended.
    case recordRejected(String)
    /// `--on-lease-lost warn`: the child was let finish, but the lease was gone and the end
    /// could not be recorded.
    case lostUnrecorded
    /// The service did not answer: the run ended but nothing recorded it.
    case unrecorded

    /// The history's `outcome` and `error_code` for this end of a run finished by `decision`.
    package func history(_ decision: FinishDecision) -> (outcome: String, errorCode: String?) {
        switch self {
        case .lost, .recordRejected, .lostUnrecorded: ("lost", "lease_lost")
        case .recorded, .timedOut, .unrecorded: (decision.outcome, decision.errorCode)
        }
    }
}

/// The supervisor's rules as a pure value: events in, actions out, time as a `Duration` since
/// the run started on a monotonic clock. The driver owns the child, the clock and the network;
/// this owns every decision, and it checks the lease deadline before anything else on every
/// event, so a wrapper resumed after SIGSTOP stops its child before it renews or reports.
/// It also decides how the run is finished (``FinishDecision``) and, given the service's
/// answer, how it ends (``RunEnd``).
package struct SupervisorMachine: Sendable {
    /// A summary of ``Child`` for callers that need only the phase.
    package enum Phase: Sendable, Equatable {
        case running
        /// SIGTERM sent; SIGKILL due at `killAt`.
        case terminating(killAt: Duration)
        /// SIGKILL sent; waiting for the exit.
        case killed
        case exited
    }

    /// The child, with the data each state needs.
    package enum Child: Sendable, Equatable {
        /// Running; `forwarded` is the first signal passed on to it (it decides how to end).
        case running(forwarded: Int32?)
        /// once-exec is stopping it: SIGTERM sent, SIGKILL due at `killAt`.
        case terminating(StopReason, killAt: Duration)
        /// SIGKILL sent; waiting for the exit.
        case killed(StopReason)
        /// Gone, with how once-exec decided to finish the run.
        case exited(ExitStatus, stop: StopReason?, finish: FinishDecision)
    }

    /// Renewal bookkeeping while a lease is (or was) held.
    package struct Renewals: Sendable, Equatable {
        /// Send time of the newest confirmed renewal (the acquire's send time at first).
        package var confirmedSentAt: Duration
        package var inFlight: Duration?
        package var nextAt: Duration
        package var failures = 0
    }

    /// The lease, with the data each state needs.
    package enum LeaseState: Sendable, Equatable {
        /// Running without a lease (`--if-unreachable run`): nothing to renew or lose.
        case unleased
        case held(Renewals)
        /// Known or presumed lost (also in warn mode); `last` is the bookkeeping at the loss.
        case lost(LeaseLossCause, last: Renewals)
    }

    package let policy: SupervisorPolicy
    package private(set) var child: Child = .running(forwarded: nil)
    package private(set) var lease: LeaseState

    package init(policy: SupervisorPolicy, acquiredSentAt: Duration = .zero) {
        self.policy = policy
        lease =
            policy.leased
            ? .held(Renewals(confirmedSentAt: acquiredSentAt, nextAt: acquiredSentAt + policy.heartbeat))
            : .unleased
    }

    // MARK: views

    package var phase: Phase {
        switch child {
        case .running: .running
        case .terminating(_, let killAt): .terminating(killAt: killAt)
        case .killed: .killed
        case .exited: .exited
        }
    }

    /// The first reason once-exec had to stop the child, if any (a non-signal reason outranks
    /// a forwarded signal).
    package var stopReason: StopReason? {
        switch child {
        case .running(let forwarded): forwarded.map { .signal($0) }
        case .terminating(let reason, _), .killed(let reason): reason
        case .exited(_, let stop, _): stop
        }
    }

    package var finish: FinishDecision? {
        if case .exited(_, _, let finish) = child { return finish }
        return nil
    }

    package var leaseLost: LeaseLossCause? {
        if case .lost(let cause, _) = lease { return cause }
        return nil
    }

    private var renewals: Renewals? {
        switch lease {
        case .unleased: nil
        case .held(let r), .lost(_, let r): r
        }
    }

    package var confirmedSentAt: Duration { renewals?.confirmedSentAt ?? .zero }
    package var renewalInFlight: Duration? {
        if case .held(let r) = lease { return r.inFlight }
        return nil
    }
    package var nextRenewalAt: Duration { renewals?.nextAt ?? .zero }
    package var consecutiveFailures: Int { renewals?.failures ?? 0 }

    /// Local deadline: SIGTERM no later than this unless a newer renewal is confirmed.
    package var termDeadline: Duration { confirmedSentAt + policy.safeWindow }

    /// Renewals go on while the child runs or is being stopped and the lease is held.
    private var renewing: Renewals? {
        guard case .held(let r) = lease else { return nil }
        switch child {
        case .running, .terminating: return r
        case .killed, .exited: return nil
        }
    }

    /// When the driver should call ``tick(now:)`` next if nothing else happens.
    package var nextWake: Duration? {
        var candidates: [Duration] = []
        switch child {
        case .running:
            if case .held = lease { candidates.append(termDeadline) }
            if let max = policy.maxRuntime { candidates.append(max) }
        case .terminating(_, let killAt):
            candidates.append(killAt)
        case .killed, .exited:
            break
        }
        if let r = renewing, r.inFlight == nil { candidates.append(r.nextAt) }
        return candidates.min()
    }

    // MARK: events

    /// Time passed: check deadlines first, then start a renewal when one is due.
    package mutating func tick(now: Duration) -> [SupervisorAction] {
        var actions = checkDeadlines(now: now)
        if var r = renewing, r.inFlight == nil, now >= r.nextAt {
            r.inFlight = now
            lease = .held(r)
            actions.append(.renew(sentAt: now))
        }
        return actions
    }

    /// The lease deadline, `--max-runtime` and the SIGKILL grace, in that order.
    private mutating func checkDeadlines(now: Duration) -> [SupervisorAction] {
        var actions: [SupervisorAction] = []
        if case .running = child, case .held = lease, now >= termDeadline {
            actions += loseLease(.deadline, now: now)
        }
        if case .running = child, let max = policy.maxRuntime, now >= max {
            actions.append(.record(.maxRuntime, detail: "ran for \(DurationText.format(now))"))
            actions += beginStop(.maxRuntime, now: now)
        }
        if case .terminating(let reason, let killAt) = child, now >= killAt {
            child = .killed(reason)
            actions.append(.signalGroup(SIGKILL))
            actions.append(
                .record(.childKilled, detail: "no exit \(DurationText.format(policy.killAfter)) after SIGTERM"))
        }
        return actions
    }

    package mutating func renewalSucceeded(sentAt: Duration, now: Duration) -> [SupervisorAction] {
        // Deadline first: a confirmation that arrives after the deadline passed does not undo it.
        var actions = tick(now: now)
        guard case .held(var r) = lease, r.inFlight == sentAt else { return actions }
        if r.failures > 0 || now - sentAt > policy.margin {
            actions.append(
                .record(
                    .renewedLate,
                    detail: "confirmed \(DurationText.format(now - sentAt)) after sending, "
                        + "\(r.failures) failed attempt(s) before"))
        }
        r.inFlight = nil
        r.failures = 0
        r.confirmedSentAt = max(r.confirmedSentAt, sentAt)
        r.nextAt = sentAt + policy.heartbeat
        lease = .held(r)
        return actions + tick(now: now)
    }

    /// The service said the lease is not this run's any more: stop at once.
    package mutating func renewalRejected(sentAt: Duration, now: Duration) -> [SupervisorAction] {
        var actions = tick(now: now)
        guard case .held(var r) = lease else { return actions }
        if r.inFlight == sentAt { r.inFlight = nil }
        lease = .held(r)
        switch child {
        case .running, .terminating, .killed: actions += loseLease(.rejected, now: now)
        case .exited: break
        }
        return actions
    }

    /// A renewal did not get an answer (network, timeout, 5xx): retry with backoff
    /// (``RetryPolicy/renewal``, at most half the heartbeat between attempts). The
    /// deadline, not the number of failures, decides when the child must stop.
    package mutating func renewalFailed(sentAt: Duration, now: Duration, error: String) -> [SupervisorAction] {
        var actions = tick(now: now)
        guard case .held(var r) = lease, r.inFlight == sentAt else { return actions }
        r.inFlight = nil
        r.failures += 1
        let backoff = min(RetryPolicy.renewal.duration(beforeRetry: r.failures - 1), policy.heartbeat / 2)
        r.nextAt = now + backoff
        lease = .held(r)
        actions.append(.record(.renewalFailed, detail: "attempt \(r.failures): \(error)"))
        return actions + tick(now: now)
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT reached once-exec: pass it to the child's group.
    package mutating func signalReceived(_ signal: Int32, now: Duration) -> [SupervisorAction] {
        var actions = tick(now: now)
        switch child {
        case .exited:
            return actions
        case .running(let forwarded):
            child = .running(forwarded: forwarded ?? signal)
        case .terminating, .killed:
            break
        }
        actions.append(.signalGroup(signal))
        actions.append(.record(.signalForwarded, detail: signalName(signal)))
        return actions
    }

    /// The child exited: the deadlines are checked first, even now (a lease that lapsed while
    /// once-exec was paused is reported), no renewal starts, and the run's finish is decided.
    /// The last action is always `.finish`.
    package mutating func childExited(_ status: ExitStatus, now: Duration) -> [SupervisorAction] {
        var actions: [SupervisorAction] = []
        switch child {
        case .exited:
            return []
        case .running, .terminating, .killed:
            actions = checkDeadlines(now: now)
        }
        if case .held(var r) = lease {
            r.inFlight = nil
            lease = .held(r)
        }
        let stop = stopReason
        let decision = Self.decide(lease: lease, stop: stop, status: status, onLeaseLost: policy.onLeaseLost)
        child = .exited(status, stop: stop, finish: decision)
        actions.append(.finish(decision))
        return actions
    }

    /// The rules for finishing a run, from how the lease and the child ended.
    static func decide(lease: LeaseState, stop: StopReason?, status: ExitStatus, onLeaseLost: LeaseLossPolicy)
        -> FinishDecision
    {
        switch lease {
        case .unleased:
            return .unleased
        case .lost(let cause, _) where onLeaseLost == .stop || cause == .rejected:
            return .recordLost(cause)
        case .held, .lost:
            break
        }
        switch stop {
        case .maxRuntime?:
            return .fail(errorCode: "max_runtime", timedOut: true)
        case .leaseLost(let cause)?:
            return .recordLost(cause)
        case .signal(let s)? where !status.succeeded:
            return .cancel(signal: s)
        case .signal?, nil:
            break
        }
        // A child that dies of a keyboard signal was interrupted too: Ctrl-C and Ctrl-\ reach
        // its group directly when it owns the terminal.
        if case .signaled(let s) = status, s == SIGINT || s == SIGQUIT { return .cancel(signal: s) }
        return status.succeeded ? .complete : .fail(errorCode: status.errorCode, timedOut: false)
    }

    /// The service answered the finish call (or did not): how the run ends for the caller.
    /// Before the child exited there is nothing to settle.
    package func settle(_ answer: FinishAnswer) -> RunEnd? {
        guard case .exited(_, _, let decision) = child else { return nil }
        switch decision {
        case .unleased:
            return .recorded
        case .recordLost(let cause):
            return .lost(cause)
        case .complete, .fail, .cancel:
            break
        }
        let timedOut = decision == .fail(errorCode: "max_runtime", timedOut: true)
        switch answer {
        case .done:
            return timedOut ? .timedOut : .recorded
        case .rejected(let why):
            return .recordRejected(why)
        case .noAnswer where timedOut:
            return .timedOut
        case .noAnswer:
            return leaseLost != nil ? .lostUnrecorded : .unrecorded
        }
    }

    private mutating func loseLease(_ cause: LeaseLossCause, now: Duration) -> [SupervisorAction] {
        guard case .held(var r) = lease else { return [] }
        r.inFlight = nil
        lease = .lost(cause, last: r)
        let detail =
            switch cause {
            case .deadline:
                "no renewal confirmed within \(DurationText.format(policy.safeWindow)) of the last one sent"
            case .rejected: "the service refused the renewal"
            }
        var actions: [SupervisorAction] = [.record(.leaseLost, detail: detail)]
        if policy.onLeaseLost == .stop { actions += beginStop(.leaseLost(cause), now: now) }
        return actions
    }

    /// SIGTERM the group, unless once-exec is already stopping it (the first reason stays).
    private mutating func beginStop(_ reason: StopReason, now: Duration) -> [SupervisorAction] {
        switch child {
        case .running:
            child = .terminating(reason, killAt: now + policy.killAfter)
            return [.signalGroup(SIGTERM)]
        case .terminating, .killed, .exited:
            return []
        }
    }
}

package func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    case SIGQUIT: "SIGQUIT"
    case SIGKILL: "SIGKILL"
    case SIGSEGV: "SIGSEGV"
    case SIGABRT: "SIGABRT"
    case SIGPIPE: "SIGPIPE"
    case SIGUSR1: "SIGUSR1"
    case SIGUSR2: "SIGUSR2"
    case SIGALRM: "SIGALRM"
    default: "signal \(signal)"
    }
}
