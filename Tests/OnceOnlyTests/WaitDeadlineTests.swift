import Foundation
import OnceOnly
import Testing

/// `wait(timeout:)` and the waits built on it never sleep past their deadline, whatever the
/// server hints (once-server hints 5 s while a lease is held).
///
/// The sleeper used here really sleeps and records what it was asked for: the sum of the
/// requested sleeps is the part of a wait the SDK decides, independent of how loaded the
/// machine is; the measured time adds the requests.
@Suite("wait, runAndWait and runFn stop at their timeout", .timeLimit(.minutes(1)))
struct WaitDeadlineTests {
    private static let clock = ContinuousClock()

    /// A sleeper that sleeps and records each request.
    private static func recordingSleeper() -> (Sleeper, Locked<[Double]>) {
        let waits = Locked<[Double]>([])
        return (
            { seconds in
                waits.withValue { $0.append(seconds) }
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            }, waits
        )
    }

    /// Seconds `body` took.
    private static func timed(_ body: () async throws -> Void) async rethrows -> Double {
        let start = clock.now
        try await body()
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test("wait(timeout: 2) on a held key sleeps at most 2 s in all and returns within 2 s plus one request timeout")
    func waitStopsAtTimeout() async throws {
        try await withOnceServer { server in
            let (sleeper, waits) = Self.recordingSleeper()
            let client = try server.client(sleep: sleeper)
            _ = try await client.ai.lease(key: "held", ttl: 60)
            var result: AIResult?
            let took = try await Self.timed { result = try await client.ai.wait(key: "held", timeout: 2) }
            #expect(result?.errorCode == "timeout")
            let slept = waits.current.reduce(0, +)
            #expect(slept <= 2 && !waits.current.isEmpty, "asked to sleep \(waits.current); the server hints 5 s")
            #expect(took >= 2 && took < 2 + client.timeout, "took \(took) s")
        }
    }

    @Test("runFn's wait on conflict sleeps at most its timeout")
    func runFnConflict() async throws {
        try await withOnceServer { server in
            let (sleeper, waits) = Self.recordingSleeper()
            let client = try server.client(sleep: sleeper)
            _ = try await client.ai.lease(key: "busy", ttl: 60)
            var result: AIResult?
            let took = try await Self.timed {
                result = try await client.ai.runFn(key: "busy", timeout: 1.5) { () -> JSON in
                    Issue.record("must not run")
                    return nil
                }
            }
            #expect(result?.errorCode == "timeout")
            #expect(waits.current.reduce(0, +) <= 1.5, "asked to sleep \(waits.current); the server hints 5 s")
            #expect(took >= 1.5 && took < 1.5 + client.timeout, "took \(took) s")
        }
    }

    @Test("runAndWait sleeps at most its timeout although the hint (1 s) is longer")
    func runAndWaitStops() async throws {
        let fake = FakeOnceAPI(pollsBeforeDone: 1000)
        try await withScriptedServer(fallback: { fake.handle($0) }) { server in
            let (sleeper, waits) = Self.recordingSleeper()
            let client = try server.client(sleep: sleeper)
            var waited: AIWaitOutcome?
            let took = try await Self.timed {
                waited = try await client.ai.runAndWait(key: "job", ttl: 60, timeout: 0.3)
            }
            guard case .result(let result)? = waited else {
                Issue.record("expected a result: \(String(describing: waited))")
                return
            }
            #expect(result.errorCode == "timeout")
            #expect(waits.current.reduce(0, +) <= 0.3, "asked to sleep \(waits.current)")
            #expect(took >= 0.3 && took < 0.3 + client.timeout, "took \(took) s")
        }
    }
}
