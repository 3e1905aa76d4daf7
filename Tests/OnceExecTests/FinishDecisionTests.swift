import OnceExec
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How the machine finishes a run: event by event to the exit, then the decision, then the
/// service's answer to the end the caller sees.
@Suite("SupervisorMachine finish")
struct FinishDecisionTests {
    /// TTL 30 s, kill-after 5 s, margin 3 s: the local deadline is at last send + 22 s.
    static func policy(
        maxRuntime: Duration? = nil, onLeaseLost: LeaseLossPolicy = .stop, leased: Bool = true
    ) -> SupervisorPolicy {
        SupervisorPolicy(
            ttl: .seconds(30), killAfter: .seconds(5), maxRuntime: maxRuntime, onLeaseLost: onLeaseLost,
            leased: leased)
    }

    enum Step: Sendable, CustomStringConvertible {
        case tick(Duration)
        case signal(Int32, Duration)
        case renewOK(sent: Duration, at: Duration)
        case renewRejected(sent: Duration, at: Duration)

        var description: String {
            switch self {
            case .tick(let t): "tick \(t)"
            case .signal(let s, let t): "\(signalName(s)) at \(t)"
            case .renewOK(let s, let t): "renewal sent \(s) confirmed \(t)"
            case .renewRejected(let s, let t): "renewal sent \(s) rejected \(t)"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let policy: SupervisorPolicy
        let steps: [Step]
        let exit: OnceExec.ExitStatus
        let exitAt: Duration
        let decision: FinishDecision
        /// The end for each answer the service may give: done, rejected, no answer.
        let ends: (done: RunEnd, rejected: RunEnd, noAnswer: RunEnd)
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "exit 0 completes", policy: policy(), steps: [], exit: .exited(0), exitAt: .seconds(1),
            decision: .complete, ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "exit 3 fails with exit_3", policy: policy(), steps: [], exit: .exited(3), exitAt: .seconds(1),
            decision: .fail(errorCode: "exit_3", timedOut: false), ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "death by SIGSEGV fails", policy: policy(), steps: [], exit: .signaled(SIGSEGV),
            exitAt: .seconds(1), decision: .fail(errorCode: "signal_SIGSEGV", timedOut: false),
            ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "a forwarded SIGTERM, then a failed exit, cancels", policy: policy(),
            steps: [.signal(SIGTERM, .seconds(1))], exit: .signaled(SIGTERM), exitAt: .seconds(2),
            decision: .cancel(signal: SIGTERM), ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "a forwarded SIGTERM the child survives with exit 0 completes", policy: policy(),
            steps: [.signal(SIGTERM, .seconds(1))], exit: .exited(0), exitAt: .seconds(2), decision: .complete,
            ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "death by SIGINT (Ctrl-C to the child's group) cancels", policy: policy(), steps: [],
            exit: .signaled(SIGINT), exitAt: .seconds(1), decision: .cancel(signal: SIGINT),
            ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "--max-runtime fails with max_runtime, and outranks a signal",
            policy: policy(maxRuntime: .seconds(5)),
            steps: [.signal(SIGHUP, .seconds(1)), .tick(.seconds(5))], exit: .signaled(SIGTERM), exitAt: .seconds(6),
            decision: .fail(errorCode: "max_runtime", timedOut: true),
            ends: (.timedOut, .recordRejected("x"), .timedOut)),
        Case(
            name: "past --max-runtime at the exit is still a timeout", policy: policy(maxRuntime: .seconds(5)),
            steps: [], exit: .exited(0), exitAt: .seconds(7), decision: .fail(errorCode: "max_runtime", timedOut: true),
            ends: (.timedOut, .recordRejected("x"), .timedOut)),
        Case(
            name: "a missed deadline records the loss", policy: policy(), steps: [.tick(.seconds(22))],
            exit: .signaled(SIGTERM), exitAt: .seconds(23), decision: .recordLost(.deadline),
            ends: (.lost(.deadline), .lost(.deadline), .lost(.deadline))),
        Case(
            name: "a deadline that passed while paused is found at the exit", policy: policy(), steps: [],
            exit: .exited(0), exitAt: .seconds(40), decision: .recordLost(.deadline),
            ends: (.lost(.deadline), .lost(.deadline), .lost(.deadline))),
        Case(
            name: "a rejected renewal records the loss", policy: policy(),
            steps: [.tick(.seconds(10)), .renewRejected(sent: .seconds(10), at: .seconds(10))],
            exit: .signaled(SIGTERM), exitAt: .seconds(11), decision: .recordLost(.rejected),
            ends: (.lost(.rejected), .lost(.rejected), .lost(.rejected))),
        Case(
            name: "warn: a missed deadline lets the child finish and complete", policy: policy(onLeaseLost: .warn),
            steps: [.tick(.seconds(22))], exit: .exited(0), exitAt: .seconds(30), decision: .complete,
            ends: (.recorded, .recordRejected("x"), .lostUnrecorded)),
        Case(
            name: "warn: a rejection is still a loss", policy: policy(onLeaseLost: .warn),
            steps: [.tick(.seconds(10)), .renewRejected(sent: .seconds(10), at: .seconds(10))], exit: .exited(0),
            exitAt: .seconds(12), decision: .recordLost(.rejected),
            ends: (.lost(.rejected), .lost(.rejected), .lost(.rejected))),
        Case(
            name: "renewed in time: a long run completes", policy: policy(),
            steps: [
                .tick(.seconds(10)), .renewOK(sent: .seconds(10), at: .seconds(10)), .tick(.seconds(20)),
                .renewOK(sent: .seconds(20), at: .seconds(21)),
            ],
            exit: .exited(0), exitAt: .seconds(35), decision: .complete,
            ends: (.recorded, .recordRejected("x"), .unrecorded)),
        Case(
            name: "without a lease there is nothing to record", policy: policy(leased: false), steps: [],
            exit: .exited(1), exitAt: .seconds(100), decision: .unleased, ends: (.recorded, .recorded, .recorded)),
    ]

    @Test("event by event to the exit, the decision, and the end for each answer", arguments: cases)
    func table(_ c: Case) {
        var m = SupervisorMachine(policy: c.policy)
        for step in c.steps {
            switch step {
            case .tick(let t): _ = m.tick(now: t)
            case .signal(let s, let t): _ = m.signalReceived(s, now: t)
            case .renewOK(let sent, let at): _ = m.renewalSucceeded(sentAt: sent, now: at)
            case .renewRejected(let sent, let at): _ = m.renewalRejected(sentAt: sent, now: at)
            }
            #expect(m.finish == nil, "\(step): not decided before the exit")
            #expect(m.settle(.done) == nil)
        }
        let actions = m.childExited(c.exit, now: c.exitAt)
        #expect(actions.last == .finish(c.decision), "\(actions)")
        #expect(!actions.contains { if case .renew = $0 { true } else { false } }, "no renewal after the exit")
        #expect(m.finish == c.decision)
        #expect(m.phase == .exited)
        #expect(m.nextWake == nil)
        #expect(m.settle(.done) == c.ends.done)
        #expect(m.settle(.rejected("x")) == c.ends.rejected)
        #expect(m.settle(.noAnswer) == c.ends.noAnswer)
        #expect(m.childExited(c.exit, now: c.exitAt + .seconds(1)) == [], "a second exit changes nothing")
    }

    @Test("the exit checks the deadline first: a lease that lapsed while paused is recorded as lost")
    func exitChecksDeadlineFirst() {
        var m = SupervisorMachine(policy: Self.policy())
        let actions = m.childExited(.exited(0), now: .seconds(40))
        #expect(actions.first == .record(.leaseLost, detail: "no renewal confirmed within 22s of the last one sent"))
        #expect(actions.last == .finish(.recordLost(.deadline)))
    }

    @Test("the history's outcome and error code for each end")
    func history() {
        let fail = FinishDecision.fail(errorCode: "exit_3", timedOut: false)
        #expect(RunEnd.recorded.history(fail) == ("failed", "exit_3"))
        #expect(RunEnd.recorded.history(.complete) == ("completed", nil))
        #expect(RunEnd.recorded.history(.cancel(signal: SIGINT)) == ("canceled", nil))
        #expect(RunEnd.timedOut.history(.fail(errorCode: "max_runtime", timedOut: true)) == ("timeout", "max_runtime"))
        #expect(RunEnd.unrecorded.history(fail) == ("failed", "exit_3"))
        #expect(RunEnd.recordRejected("x").history(.complete) == ("lost", "lease_lost"))
        #expect(RunEnd.lostUnrecorded.history(.complete) == ("lost", "lease_lost"))
        #expect(RunEnd.lost(.deadline).history(.recordLost(.deadline)) == ("lost", "lease_lost"))
    }
}
