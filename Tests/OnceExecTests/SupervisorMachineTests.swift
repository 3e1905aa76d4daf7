import OnceExec
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The supervisor's decisions, transition by transition, with time given by hand.
@Suite("SupervisorMachine")
struct SupervisorMachineTests {
    // TTL 30 s, heartbeat 10 s, kill-after 5 s, margin 3 s: SIGTERM at last send + 22 s.
    let policy = SupervisorPolicy(ttl: .seconds(30), killAfter: .seconds(5))

    @Test("renews every TTL/3 and keeps the deadline at last send + TTL - kill-after - margin")
    func renewsOnSchedule() {
        var m = SupervisorMachine(policy: policy)
        #expect(m.termDeadline == .seconds(22))
        #expect(m.tick(now: .seconds(9)) == [])
        #expect(m.tick(now: .seconds(10)) == [.renew(sentAt: .seconds(10))])
        #expect(m.tick(now: .seconds(11)) == [], "one renewal in flight at a time")
        #expect(m.renewalSucceeded(sentAt: .seconds(10), now: .milliseconds(10_200)) == [])
        #expect(m.termDeadline == .seconds(32))
        #expect(m.nextWake == .seconds(20))
    }

    @Test("no confirmed renewal by the deadline: SIGTERM, then SIGKILL after the grace")
    func deadlineStopsTheGroup() {
        var m = SupervisorMachine(policy: policy)
        _ = m.tick(now: .seconds(10))
        _ = m.renewalFailed(sentAt: .seconds(10), now: .seconds(11), error: "refused")
        #expect(m.consecutiveFailures == 1)
        let actions = m.tick(now: .seconds(22))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        #expect(actions.contains { if case .record(.leaseLost, _) = $0 { true } else { false } })
        #expect(m.leaseLost == .deadline)
        #expect(m.stopReason == .leaseLost(.deadline))
        #expect(m.tick(now: .seconds(26)).contains(.signalGroup(SIGKILL)) == false)
        #expect(m.tick(now: .seconds(27)).contains(.signalGroup(SIGKILL)))
        #expect(m.phase == .killed)
        _ = m.childExited(.signaled(SIGKILL), now: .seconds(27))
        #expect(m.phase == .exited)
        #expect(m.nextWake == nil)
    }

    @Test("a rejected renewal stops the child at once")
    func rejectionStopsAtOnce() {
        var m = SupervisorMachine(policy: policy)
        _ = m.tick(now: .seconds(10))
        let actions = m.renewalRejected(sentAt: .seconds(10), now: .seconds(10))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        #expect(m.leaseLost == .rejected)
        #expect(m.tick(now: .seconds(12)).contains { if case .renew = $0 { true } else { false } } == false)
    }

    @Test("failed renewals retry with growing backoff, capped at half the heartbeat")
    func backoff() {
        var m = SupervisorMachine(policy: policy)
        var sent = Duration.seconds(10)
        _ = m.tick(now: sent)
        var gaps: [Duration] = []
        for _ in 0..<6 {
            _ = m.renewalFailed(sentAt: sent, now: sent, error: "x")
            gaps.append(m.nextRenewalAt - sent)
            sent = m.nextRenewalAt
            if sent >= m.termDeadline { break }
            #expect(m.tick(now: sent) == [.renew(sentAt: sent)])
        }
        #expect(gaps.prefix(4) == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2)])
        #expect(gaps.allSatisfy { $0 <= .seconds(5) })
    }

    @Test("a confirmation arriving after the deadline does not undo the loss")
    func lateConfirmation() {
        var m = SupervisorMachine(policy: policy)
        _ = m.tick(now: .seconds(10))
        // Paused (SIGSTOP) from 10 s to 40 s; the answer is processed after resuming.
        let actions = m.renewalSucceeded(sentAt: .seconds(10), now: .seconds(40))
        #expect(actions.first == .record(.leaseLost, detail: "no renewal confirmed within 22s of the last one sent"))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        #expect(m.termDeadline == .seconds(22), "the late confirmation was not applied")
    }

    @Test("after a pause the deadline is checked before a renewal is sent")
    func pauseThenTick() {
        var m = SupervisorMachine(policy: policy)
        let actions = m.tick(now: .seconds(60))
        #expect(actions.first == .record(.leaseLost, detail: "no renewal confirmed within 22s of the last one sent"))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        #expect(!actions.contains { if case .renew = $0 { true } else { false } })
    }

    @Test("signals are forwarded to the group and remembered as the stop reason")
    func signals() {
        var m = SupervisorMachine(policy: policy)
        let actions = m.signalReceived(SIGTERM, now: .seconds(1))
        #expect(actions == [.signalGroup(SIGTERM), .record(.signalForwarded, detail: "SIGTERM")])
        #expect(m.stopReason == .signal(SIGTERM))
        #expect(m.phase == .running, "the child decides how to end; renewals go on meanwhile")
        #expect(m.tick(now: .seconds(10)) == [.renew(sentAt: .seconds(10))])
    }

    @Test("max runtime stops the child and outranks a signal as the reason")
    func maxRuntime() {
        var m = SupervisorMachine(
            policy: SupervisorPolicy(ttl: .seconds(30), killAfter: .seconds(5), maxRuntime: .seconds(7)))
        _ = m.signalReceived(SIGHUP, now: .seconds(1))
        let actions = m.tick(now: .seconds(7))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        #expect(m.stopReason == .maxRuntime)
    }

    @Test("warn policy: the loss is recorded but the child keeps running")
    func warnPolicy() {
        var m = SupervisorMachine(
            policy: SupervisorPolicy(ttl: .seconds(30), killAfter: .seconds(5), onLeaseLost: .warn))
        let actions = m.tick(now: .seconds(23))
        #expect(!actions.contains(.signalGroup(SIGTERM)))
        #expect(m.leaseLost == .deadline)
        #expect(m.phase == .running)
        #expect(m.stopReason == nil)
    }

    @Test("without a lease nothing is renewed or lost")
    func unleased() {
        var m = SupervisorMachine(policy: SupervisorPolicy(ttl: .seconds(30), killAfter: .seconds(5), leased: false))
        #expect(m.tick(now: .seconds(100)) == [])
        #expect(m.nextWake == nil)
    }
}
