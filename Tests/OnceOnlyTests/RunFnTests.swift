import Foundation
import OnceOnly
import Testing

@Suite("ai: runFn, wait and the helpers against once-server")
struct RunFnTests {
    @Test("runFn runs the closure once, stores its value and returns the result")
    func runsOnce() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let calls = Locked(0)
            let first = try await client.ai.runFn(key: "summary:T-1", ttl: 60, metadata: ["run_id": "r1"]) {
                calls.withValue { $0 += 1 }
                return ["summary": "ok"] as JSON
            }
            #expect(first.ok && first.status == "completed" && first.result == ["summary": "ok"])
            let second = try await client.ai.runFn(key: "summary:T-1") { () -> JSON in
                calls.withValue { $0 += 1 }
                return "never"
            }
            #expect(second == first)
            #expect(calls.current == 1)
        }
    }

    @Test("non-object values are stored as {value: <the JSON value>} and decode back; nil stores no result")
    func resultCoercion() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            #expect(try await client.ai.runFn(key: "s") { "hello" }.result == ["value": "hello"])
            let number = try await client.ai.runFn(key: "n") { 42 }
            #expect(number.result == ["value": 42])
            #expect(try number.decodeResult(as: Int.self) == 42)
            let list = try await client.ai.runFn(key: "a") { ["a", "b"] }
            #expect(list.result == ["value": ["a", "b"]])
            #expect(try list.decodeResult(as: [String].self) == ["a", "b"])
            #expect(try await client.ai.runFn(key: "b") { true }.decodeResult(as: Bool.self) == true)
            #expect(try await client.ai.runFn(key: "z") { Optional<Int>.none }.result == nil)
            struct Summary: Codable, Sendable { let text: String; let tokens: Int }
            let typed = try await client.ai.runFn(key: "t") { Summary(text: "hi", tokens: 3) }
            #expect(typed.result == ["text": "hi", "tokens": 3])
            #expect(try typed.decodeResult(as: Summary.self)?.tokens == 3)
        }
    }

    @Test("a throwing closure fails the lease with errorCode and the error is rethrown")
    func failure() async throws {
        struct Boom: Error {}
        try await withOnceServer { server in
            let client = try server.client()
            await #expect(throws: Boom.self) {
                _ = try await client.ai.runFn(key: "boom", errorCode: "llm_error") { () -> JSON in throw Boom() }
            }
            let result = try await client.ai.result(key: "boom")
            #expect(result.status == "failed" && result.errorCode == "llm_error")
            let later = try await client.ai.runFn(key: "boom") { () -> JSON in
                Issue.record("must not run"); return nil
            }
            #expect(later.status == "failed" && later.errorCode == "llm_error")
        }
    }

    @Test("retryFailed runs a failed key again; without it the failed result is returned")
    func retryFailed() async throws {
        struct Boom: Error {}
        try await withOnceServer { server in
            let client = try server.client()
            await #expect(throws: Boom.self) {
                _ = try await client.ai.runFn(key: "flaky") { () -> JSON in throw Boom() }
            }
            let stillFailed = try await client.ai.runFn(key: "flaky") { () -> JSON in ["second": true] }
            #expect(stillFailed.status == "failed" && stillFailed.errorCode == "fn_error")
            let retried = try await client.ai.runFn(key: "flaky", retryFailed: true) { () -> JSON in ["second": true] }
            #expect(retried.status == "completed" && retried.result == ["second": true], "\(retried.raw)")
        }
    }

    @Test("20 concurrent tasks with one key: the closure runs exactly once, all get the same result")
    func contention() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let runs = Locked(0)
            let results = try await withThrowingTaskGroup(of: AIResult.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.ai.runFn(key: "contended", ttl: 60, pollMin: 0.05, pollMax: 0.1) {
                            let n = runs.withValue { count -> Int in
                                count += 1
                                return count
                            }
                            try await Task.sleep(nanoseconds: 300_000_000)
                            return ["winner": .int(n)] as JSON
                        }
                    }
                }
                return try await group.reduce(into: [AIResult]()) { $0.append($1) }
            }
            #expect(runs.current == 1)
            #expect(results.count == 20)
            #expect(results.allSatisfy { $0.status == "completed" && $0.result == ["winner": 1] })
            #expect(Set(results.map(\.raw)).count == 1, "every caller reads the same stored result")
        }
    }

    @Test("without waitOnConflict a held key answers not_acquired at once")
    func notAcquired() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            _ = try await client.ai.lease(key: "busy", ttl: 60)
            let result = try await client.ai.runFn(key: "busy", waitOnConflict: false) { () -> JSON in
                Issue.record("must not run")
                return nil
            }
            #expect(
                result
                    == AIResult(raw: ["ok": false, "status": "polling", "key": "busy", "error_code": "not_acquired"]))
        }
    }

    @Test("the heartbeat extends the lease every max(1, extendEvery) s, first after one interval")
    func heartbeat() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let result = try await client.ai.runFn(key: "slow", ttl: 60, extendEvery: 0.2) { () -> JSON in
                try await Task.sleep(nanoseconds: 2_500_000_000)
                return ["done": true]
            }
            #expect(result.status == "completed")
            // acquire = 1, heartbeats at ~1 s and ~2 s (the second may slip past 2.5 s on a loaded
            // machine), complete = +1: 3 or 4. An unclamped 0.2 s interval would give about 14.
            guard case .int(let version)? = result.raw["version"] else {
                Issue.record("no version: \(result.raw)")
                return
            }
            #expect((3...4).contains(version), "\(result.raw)")
        }
    }

    @Test("wait polls until completed and heartbeats the lease it is given")
    func waitCompletes() async throws {
        try await withOnceServer { server in
            let sleeper = RecordingSleeper()
            let client = try server.client(sleep: { seconds in
                sleeper.waits.withValue { $0.append(seconds) }
                try await Task.sleep(nanoseconds: 50_000_000)
            })
            let leaseId = try #require(try await client.ai.lease(key: "w", ttl: 60).leaseId)
            let finisher = Task {
                try await Task.sleep(nanoseconds: 400_000_000)
                _ = try await client.ai.complete(key: "w", leaseId: leaseId, result: ["n": 1])
            }
            let result = try await client.ai.wait(key: "w", timeout: 10, leaseId: leaseId, ttl: 60)
            try await finisher.value
            #expect(result.status == "completed" && result.result == ["n": 1])
            // status answers retry_after_sec: 5 while held -> clamp(5, 0.5, 5) = 5 s between polls.
            #expect(!sleeper.waits.current.isEmpty && sleeper.waits.current.allSatisfy { $0 == 5 })
            // One heartbeat at the first non-terminal poll (version 2), then complete (3).
            #expect(try await client.ai.status(key: "w").raw["version"] == 3)
        }
    }

    @Test("wait gives up with a synthetic timeout after at least one status call")
    func waitTimeout() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            _ = try await client.ai.lease(key: "held", ttl: 60)
            let start = Date()
            let result = try await client.ai.wait(key: "held", timeout: 0.3, pollMin: 0.05, pollMax: 0.1)
            #expect(result == AIResult(raw: ["ok": false, "status": "failed", "key": "held", "error_code": "timeout"]))
            #expect(Date().timeIntervalSince(start) < 2)
            let immediate = try await client.ai.wait(key: "held", timeout: 0)
            #expect(immediate.errorCode == "timeout")
            await #expect(throws: OnceOnlyError.self, "a 404 from status propagates") {
                try await client.ai.wait(key: "unknown", timeout: 1)
            }
        }
    }
}
