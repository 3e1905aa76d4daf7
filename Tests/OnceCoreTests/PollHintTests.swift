import Testing

@testable import OnceCore

/// `LeaseEngine.pollHint`: never tell a poller to sleep past the held lease's deadline.
@Suite struct PollHintTests {
    @Test(
        "the hint is pollInterval, or the seconds left to the deadline when fewer (at least 1)",
        arguments: [
            (ttl: 60, now: 0, hint: 5),  // a long lease: the usual interval
            (ttl: 5, now: 0, hint: 5),
            (ttl: 2, now: 0, hint: 2),  // ends in 2 s: poll when it can settle
            (ttl: 60, now: 58, hint: 2),  // a holder that stopped heartbeating
            (ttl: 60, now: 59, hint: 1),
            (ttl: 60, now: 60, hint: 1),  // at the deadline: never 0, which would mean "poll now, forever"
        ])
    func hint(ttl: Int, now: Int, hint: Int) {
        #expect(LeaseEngine.pollHint(for: record(ttl: ttl), now: at(now)) == hint)
    }

    @Test("a heartbeat moves the deadline, and with it the hint, back to the full interval")
    func heartbeat() {
        let extended = record(ttl: 10, then: [.extend(leaseId: "lease_a", ttl: 10)])  // at t0+1, deadline t0+11
        #expect(LeaseEngine.pollHint(for: extended, now: at(8)) == 3)
        #expect(LeaseEngine.pollHint(for: extended, now: at(1)) == LeaseEngine.pollInterval)
    }
}
