import OnceExec
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The start of a run (acquire, `--wait`, `--join`), event by event with time given by hand.
@Suite("StartMachine")
struct StartMachineTests {
    static let lease = Lease(key: "k", leaseId: "lease_1", version: 3, ttl: 60)
    static let completed = KeyStatus(status: "completed", version: 4)
    static let failed = KeyStatus(status: "failed", version: 4, errorCode: "exit_1")
    static let expired = KeyStatus(status: "failed", version: 4, errorCode: "lease_expired")

    enum Event: Sendable {
        case acquired(AcquireResult, at: Duration)
        case unreachable(at: Duration)
        case status(KeyStatus?, at: Duration)
        case woke(at: Duration)
        case signal(Int32)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var wait: Duration? = nil
        var join = false
        var retryFailed = false
        /// Each event with the actions it must produce.
        let steps: [(Event, [StartMachine.Action])]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a free key is run",
            steps: [(.acquired(.acquired(lease), at: .zero), [.done(.run(lease))])]),
        Case(
            name: "a completed key is not run",
            steps: [(.acquired(.finished(completed), at: .zero), [.done(.finished(completed, waited: false))])]),
        Case(
            name: "a held key without --wait is held",
            steps: [(.acquired(.held(ttlLeft: 40), at: .zero), [.done(.held(ttlLeft: 40))])]),
        Case(
            name: "an unreachable service ends the start",
            steps: [(.unreachable(at: .zero), [.done(.unreachable(.unreachable("down")))])]),
        Case(
            name: "--wait polls with a doubling delay until the key is free", wait: .seconds(10),
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
                (.acquired(.held(ttlLeft: 5), at: .milliseconds(110)), [.sleep(until: .milliseconds(310))]),
                (.woke(at: .milliseconds(310)), [.acquire(retryFailed: false)]),
                (.acquired(.acquired(lease), at: .milliseconds(320)), [.done(.run(lease))]),
            ]),
        Case(
            name: "--wait gives up at its end, and sleeps no longer than that", wait: .milliseconds(150),
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
                (.acquired(.held(ttlLeft: 5), at: .milliseconds(100)), [.sleep(until: .milliseconds(150))]),
                (.woke(at: .milliseconds(150)), [.acquire(retryFailed: false)]),
                (.acquired(.held(ttlLeft: 4), at: .milliseconds(160)), [.done(.held(ttlLeft: 4))]),
            ]),
        Case(
            name: "--retry-failed covers only the failure found at the start, not one waited for",
            wait: .seconds(10), retryFailed: true,
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
                (.acquired(.finished(failed), at: .milliseconds(100)), [.done(.finished(failed, waited: true))]),
            ]),
        Case(
            name: "--join takes the outcome of the run it waited for", wait: .seconds(10), join: true,
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .readStatus]),
                (.status(KeyStatus(status: "in_progress", version: 3), at: .zero), [.sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
                (.acquired(.held(ttlLeft: 5), at: .milliseconds(100)), [.readStatus]),
                (.status(completed, at: .milliseconds(100)), [.done(.joined(completed))]),
            ]),
        Case(
            name: "--join does not join an expired lease: the next acquire takes it", wait: .seconds(10), join: true,
            steps: [
                (.acquired(.held(ttlLeft: 0), at: .zero), [.announceWait, .readStatus]),
                (.status(expired, at: .zero), [.sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
                (.acquired(.acquired(lease), at: .milliseconds(100)), [.done(.run(lease))]),
            ]),
        Case(
            name: "--join on a finished key joins it at once", wait: .seconds(10), join: true,
            steps: [(.acquired(.finished(failed), at: .zero), [.done(.joined(failed))])]),
        Case(
            name: "a signal while waiting stops the start", wait: .seconds(10),
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .sleep(until: .milliseconds(100))]),
                (.signal(SIGINT), [.done(.interrupted(SIGINT, cancel: nil))]),
                (.woke(at: .milliseconds(100)), []),
            ]),
        Case(
            name: "a signal that came with a lease cancels it",
            steps: [
                (.acquired(.acquired(lease), at: .zero), [.done(.run(lease))]),
                (.signal(SIGTERM), [.done(.interrupted(SIGTERM, cancel: lease))]),
                (.signal(SIGINT), []),
            ]),
        Case(
            name: "an early wake-up does nothing", wait: .seconds(10),
            steps: [
                (.acquired(.held(ttlLeft: 5), at: .zero), [.announceWait, .sleep(until: .milliseconds(100))]),
                (.woke(at: .milliseconds(50)), []),
                (.woke(at: .milliseconds(100)), [.acquire(retryFailed: false)]),
            ]),
    ]

    @Test("event → actions", arguments: cases)
    func table(_ c: Case) {
        var m = StartMachine(wait: c.wait, join: c.join, retryFailed: c.retryFailed)
        #expect(m.start() == [.acquire(retryFailed: c.retryFailed)])
        for (index, (event, expected)) in c.steps.enumerated() {
            let actions: [StartMachine.Action] =
                switch event {
                case .acquired(let result, let at): m.acquired(.success(result), now: at)
                case .unreachable(let at): m.acquired(.failure(.unreachable("down")), now: at)
                case .status(let status, let at): m.statusRead(status, now: at)
                case .woke(let at): m.woke(now: at)
                case .signal(let s): m.signalled(s)
                }
            #expect(actions == expected, "step \(index + 1)")
        }
    }

    @Test("the poll delay is capped at 2 s")
    func pollCap() {
        var m = StartMachine(wait: .seconds(3600), join: false, retryFailed: false)
        var now = Duration.zero
        var sleeps: [Duration] = []
        for _ in 0..<8 {
            let actions = m.acquired(.success(.held(ttlLeft: 60)), now: now)
            guard case .sleep(let until)? = actions.last else {
                Issue.record("expected a sleep: \(actions)")
                return
            }
            sleeps.append(until - now)
            now = until
            #expect(m.woke(now: now) == [.acquire(retryFailed: false)])
        }
        #expect(
            sleeps == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                .seconds(2), .seconds(2), .seconds(2),
            ])
    }
}
