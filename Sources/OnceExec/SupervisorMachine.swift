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

/// The supervisor's rules as a pure value: events in, actions out, time as a `Duration` since
/// the run started on a monotonic clock. The driver owns the child, the clock and the network;
/// this owns every decision, and it checks the lease deadline before anything else on every
/// event, so a wrapper resumed after SIGSTOP stops its child before it renews or reports.
package struct SupervisorMachine: Sendable {
    package enum Phase: Sendable, Equatable {
        case running
        /// SIGTERM sent; SIGKILL due at `killAt`.
        case terminating(killAt: Duration)
        /// SIGKILL sent; waiting for the exit.
        case killed
        case exited
    }

    package let policy: SupervisorPolicy
    package private(set) var phase: Phase = .running
    /// The first reason once-exec had to stop the child, if any.
    package private(set) var stopReason: StopReason?
    /// Whether the lease is known or presumed lost (also in warn mode).
    package private(set) var leaseLost: LeaseLossCause?
    /// Send time of the newest confirmed renewal (the acquire's send time at first).
    package private(set) var confirmedSentAt: Duration
    package private(set) var renewalInFlight: Duration?
    package private(set) var nextRenewalAt: Duration
    package private(set) var consecutiveFailures = 0

    package init(policy: SupervisorPolicy, acquiredSentAt: Duration = .zero) {
        self.policy = policy
        self.confirmedSentAt = acquiredSentAt
        self.nextRenewalAt = acquiredSentAt + policy.heartbeat
    }

    /// Local deadline: SIGTERM no later than this unless a newer renewal is confirmed.
    package var termDeadline: Duration { confirmedSentAt + policy.safeWindow }

    private var renewing: Bool {
        policy.leased && leaseLost == nil && (phase == .running || isTerminating)
    }

    private var isTerminating: Bool {
        if case .terminating = phase { return true }
        return false
    }

    /// When the driver should call ``tick(now:)`` next if nothing else happens.
    package var nextWake: Duration? {
        var candidates: [Duration] = []
        if phase == .running, policy.leased, leaseLost == nil { candidates.append(termDeadline) }
        if renewing, renewalInFlight == nil { candidates.append(nextRenewalAt) }
        if phase == .running, let max = policy.maxRuntime { candidates.append(max) }
        if case .terminating(let killAt) = phase { candidates.append(killAt) }
        return candidates.min()
    }

    /// Time passed: check deadlines first, then start a renewal when one is due.
    package mutating func tick(now: Duration) -> [SupervisorAction] {
        var actions: [SupervisorAction] = []
        if phase == .running, policy.leased, leaseLost == nil, now >= termDeadline {
            actions += loseLease(.deadline, now: now)
        }
        if phase == .running, let max = policy.maxRuntime, now >= max {
            actions.append(.record(.maxRuntime, detail: "ran for \(DurationText.format(now))"))
            actions += beginStop(.maxRuntime, now: now)
        }
        if case .terminating(let killAt) = phase, now >= killAt {
            phase = .killed
            actions.append(.signalGroup(SIGKILL))
            actions.append(
                .record(.childKilled, detail: "no exit \(DurationText.format(policy.killAfter)) after SIGTERM"))
        }
        if renewing, renewalInFlight == nil, now >= nextRenewalAt {
            renewalInFlight = now
            actions.append(.renew(sentAt: now))
        }
        return actions
    }

    package mutating func renewalSucceeded(sentAt: Duration, now: Duration) -> [SupervisorAction] {
        // Deadline first: a confirmation that arrives after the deadline passed does not undo it.
        var actions = tick(now: now)
        guard renewalInFlight == sentAt else { return actions }
        renewalInFlight = nil
        guard leaseLost == nil else { return actions }
        if consecutiveFailures > 0 || now - sentAt > policy.margin {
            actions.append(
                .record(
                    .renewedLate,
                    detail: "confirmed \(DurationText.format(now - sentAt)) after sending, "
                        + "\(consecutiveFailures) failed attempt(s) before"))
        }
        consecutiveFailures = 0
        confirmedSentAt = max(confirmedSentAt, sentAt)
        nextRenewalAt = sentAt + policy.heartbeat
        return actions + tick(now: now)
    }

    /// The service said the lease is not this run's any more: stop at once.
    package mutating func renewalRejected(sentAt: Duration, now: Duration) -> [SupervisorAction] {
        var actions = tick(now: now)
        if renewalInFlight == sentAt { renewalInFlight = nil }
        if leaseLost == nil, phase != .exited { actions += loseLease(.rejected, now: now) }
        return actions
    }

    /// A renewal did not get an answer (network, timeout, 5xx): retry with backoff. The
    /// deadline, not the number of failures, decides when the child must stop.
    package mutating func renewalFailed(sentAt: Duration, now: Duration, error: String) -> [SupervisorAction] {
        var actions = tick(now: now)
        guard renewalInFlight == sentAt else { return actions }
        renewalInFlight = nil
        consecutiveFailures += 1
        let backoff = min(.milliseconds(250) * (1 << min(consecutiveFailures - 1, 10)), policy.heartbeat / 2)
        nextRenewalAt = now + backoff
        actions.append(.record(.renewalFailed, detail: "attempt \(consecutiveFailures): \(error)"))
        return actions + tick(now: now)
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT reached once-exec: pass it to the child's group.
    package mutating func signalReceived(_ signal: Int32, now: Duration) -> [SupervisorAction] {
        var actions = tick(now: now)
        guard phase != .exited else { return actions }
        actions.append(.signalGroup(signal))
        actions.append(.record(.signalForwarded, detail: signalName(signal)))
        if stopReason == nil { stopReason = .signal(signal) }
        return actions
    }

    package mutating func childExited(now: Duration) {
        phase = .exited
        renewalInFlight = nil
    }

    private mutating func loseLease(_ cause: LeaseLossCause, now: Duration) -> [SupervisorAction] {
        leaseLost = cause
        renewalInFlight = nil
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

    private mutating func beginStop(_ reason: StopReason, now: Duration) -> [SupervisorAction] {
        if stopReason == nil || stopReason.map(isSignal) == true { stopReason = reason }
        guard phase == .running else { return [] }
        phase = .terminating(killAt: now + policy.killAfter)
        return [.signalGroup(SIGTERM)]
    }

    private func isSignal(_ r: StopReason) -> Bool {
        if case .signal = r { return true }
        return false
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
