import Foundation
import OnceOnly
import Testing

/// Every parameter that takes a JSON object also takes an `Encodable` value, and results typed
/// as structs come back as the same structs.
@Suite("Encodable metadata, results and payloads", .timeLimit(.minutes(1)))
struct EncodablePayloadTests {
    struct RunMeta: Codable, Sendable {
        let runId: String
        let agentId: String

        enum CodingKeys: String, CodingKey {
            case runId = "run_id"
            case agentId = "agent_id"
        }
    }

    struct Summary: Codable, Sendable, Equatable {
        let text: String
        let tokens: Int
        let at: Date

        /// Equal up to the millisecond, which is what the ISO-8601 form keeps.
        static func == (a: Summary, b: Summary) -> Bool {
            a.text == b.text && a.tokens == b.tokens && abs(a.at.timeIntervalSince(b.at)) < 0.000_5
        }
    }

    /// A date with whole milliseconds, which is what an ISO-8601 round trip keeps.
    static let at = Date(timeIntervalSince1970: 1_772_368_245.123)

    @Test("runFn with a struct as metadata and as result: the run is recorded, the result decodes")
    func runFnRoundTrip() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let result = try await client.ai.runFn(
                key: "summary:T-5", metadata: RunMeta(runId: "run_enc_1", agentId: "support_bot")
            ) { Summary(text: "refund", tokens: 7, at: Self.at) }
            #expect(result.result?["at"] == "2026-03-01T12:30:45.123Z", "Dates are stored as toISOString() does")
            #expect(try result.decodeResult(as: Summary.self) == Summary(text: "refund", tokens: 7, at: Self.at))
            let timeline = try await client.getRunTimeline(runId: "run_enc_1")
            #expect((timeline["total"]?.intValue ?? 0) > 0, "the metadata's run_id reached the server: \(timeline)")
        }
    }

    @Test("lease and complete with Encodable metadata and result; checkLock meta as a dictionary")
    func lowLevel() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let amount = 99.5
            let lease = try await client.ai.lease(key: "enc", ttl: 60, metadata: ["amount": amount])
            let leaseId = try #require(lease.leaseId)
            _ = try await client.ai.complete(
                key: "enc", leaseId: leaseId, result: Summary(text: "done", tokens: 1, at: Self.at))
            let stored = try await client.ai.result(key: "enc")
            #expect(try stored.decodeResult(as: Summary.self) == Summary(text: "done", tokens: 1, at: Self.at))
            let tag = 7
            let lock = try await client.checkLock(key: "invoice:\(tag)", ttl: 60, meta: ["amount": amount])
            #expect(lock.shouldProceed)
            let interpolated = try await client.checkLock(key: "k2", meta: ["run_id": "run_\(tag)", "n": 1])
            #expect(interpolated.shouldProceed)
        }
    }

    @Test("ai.run, runAndWait (key mode) and runTool with Encodable metadata and args (documented-shape test server)")
    func runAndRunTool() async throws {
        struct ChargeArgs: Encodable, Sendable {
            let amount: Int
            let currency: String
        }
        try await withFakeAPI { server, client in
            let outcome = try await client.ai.run(
                key: "job-enc", ttl: 60, metadata: RunMeta(runId: "run_x", agentId: "bot"), runId: "run_y")
            guard case .run(let run) = outcome else {
                Issue.record("expected a run: \(outcome)")
                return
            }
            #expect(run.isAcquired)
            #expect(
                server.requests.last?.json == [
                    "key": "job-enc", "ttl": 60, "metadata": ["run_id": "run_y", "agent_id": "bot"],
                ])
            let waited = try await client.ai.runAndWait(
                key: "job-wait", ttl: 60, metadata: RunMeta(runId: "run_w", agentId: "bot"), pollMin: 0.01,
                pollMax: 0.02)
            #expect(waited.raw["status"] == "completed")
            #expect(
                server.requests.first { $0.json?["key"] == "job-wait" }?.json?["metadata"]
                    == ["run_id": "run_w", "agent_id": "bot"])
            let decision = try await client.ai.runTool(
                agentId: "billing-agent", tool: "stripe.charge", args: ChargeArgs(amount: 9999, currency: "usd"))
            #expect(decision.allowed)
            #expect(server.requests.last?.json?["args"] == ["amount": 9999, "currency": "usd"])
        }
    }

    @Test("a value that does not encode to an object is refused before anything is sent")
    func notAnObject() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            await #expect(throws: OnceOnlyError.invalidArgument("metadata must encode to a JSON object, not [1,2]")) {
                try await client.ai.lease(key: "k", metadata: [1, 2])
            }
            #expect(server.requests.isEmpty)
        }
    }

    @Test("postEvent sends fractional ts and durationMs as numbers, and Encodable data")
    func postEventNumbers() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            struct Step: Encodable { let rows: Int }
            _ = try await client.postEvent(
                runId: "r", type: "note", ts: 1_711_871_000.25, durationMs: 12.5, data: Step(rows: 3))
            _ = try await client.postEvent(runId: "r", type: "note", ts: 1_711_871_000, durationMs: 12)
            let bodies = server.requests.map(\.body)
            #expect(bodies.first?.contains(#""ts":1711871000.25"#) == true, "\(bodies)")
            #expect(
                bodies.first?.contains(#""duration_ms":12.5"#) == true
                    && bodies.first?.contains(#""data":{"rows":3}"#) == true)
            #expect(bodies.last?.contains(#""ts":1711871000,"#) == true, "integral values keep the integer form")
        }
    }

    @Test("metrics(from:to:) sends the UTC days of the dates")
    func metricsDates() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            _ = try await client.metrics(from: Date(timeIntervalSince1970: 1_772_323_200), to: Self.at)
            #expect(server.requests.last?.query == ["from_day": "2026-03-01", "to_day": "2026-03-01"])
        }
    }
}
