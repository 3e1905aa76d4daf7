import HTTPTypes
import OnceCore
import OnceServer
import Testing

@Suite("API: leases")
struct LeaseAPITests {
    @Test("acquire, poll, extend, complete, status, result, replay")
    func fullLifecycle() async throws {
        try await APIHarness().run { api in
            let acquired = try await api.post("/v1/ai/lease", #"{"key":"job-1","ttl":60}"#)
            #expect(acquired.status == .ok)
            #expect(acquired.json["status"] == .string("acquired"))
            #expect(acquired.json["version"] == .int(1))
            #expect(acquired.json["charged"] == .int(1))
            #expect(acquired.json["ttl_left"] == .null)
            let leaseId = try #require(acquired.json["lease_id"]?.stringValue)
            #expect(leaseId.hasPrefix("lease_"))

            let polled = try await api.post("/v1/ai/lease", #"{"key":"job-1","ttl":60}"#)
            #expect(polled.json["status"] == .string("polling"))
            #expect(polled.json["lease_id"] == .null, "a non-owner must not learn the lease id")
            #expect(polled.json["retry_after_sec"] == .int(5))
            #expect(polled.json["charged"] == .int(0))
            #expect(
                polled.json["ttl_left"].map { if case .int(let n) = $0 { n > 0 && n <= 60 } else { false } } == true)

            let extended = try await api.post("/v1/ai/extend", #"{"key":"job-1","lease_id":"\#(leaseId)","ttl":120}"#)
            #expect(extended.json["status"] == .string("extended"))
            #expect(extended.json["version"] == .int(2))
            #expect(extended.json["ttl"] == .int(120))

            let status = try await api.get("/v1/ai/status?key=job-1")
            #expect(status.json["status"] == .string("in_progress"))
            let pending = try await api.get("/v1/ai/result?key=job-1")
            #expect(pending.json["status"] == .string("in_progress"))
            #expect(pending.json["result"] == .null)

            let completeBody = #"{"key":"job-1","lease_id":"\#(leaseId)","result":{"answer":42}}"#
            let completed = try await api.post("/v1/ai/complete", completeBody)
            #expect(completed.status == .ok)
            #expect(completed.json["status"] == .string("completed"))
            #expect(completed.json["version"] == .int(3))
            #expect(completed.json["result_hash"] == .string(JSONValue.object(["answer": .int(42)]).canonicalHash))
            let replay = try await api.post("/v1/ai/complete", completeBody)
            #expect(replay.status == .ok)
            #expect(replay.text == completed.text)

            let result = try await api.get("/v1/ai/result?key=job-1")
            #expect(result.json["status"] == .string("completed"))
            #expect(result.json["result"] == .object(["answer": .int(42)]))
            #expect(result.json["done_at"]?.stringValue?.hasSuffix("Z") == true)

            let again = try await api.post("/v1/ai/lease", #"{"key":"job-1"}"#)
            #expect(again.json["status"] == .string("completed"))
            #expect(again.json["charged"] == .int(0))

            let failLate = try await api.post(
                "/v1/ai/fail", #"{"key":"job-1","lease_id":"\#(leaseId)","error_code":"x"}"#)
            #expect(failLate.status == .conflict)
            #expect(failLate.errorCode == "lease_not_active")
        }
    }

    @Test("wrong lease_id is 409 lease_mismatch and changes nothing; unknown key is 404")
    func conflicts() async throws {
        try await APIHarness().run { api in
            _ = try await api.post("/v1/ai/lease", #"{"key":"k"}"#)
            for path in ["extend", "complete", "cancel"] {
                let r = try await api.post("/v1/ai/\(path)", #"{"key":"k","lease_id":"lease_someone_else"}"#)
                #expect(r.status == .conflict, "\(path)")
                #expect(r.errorCode == "lease_mismatch", "\(path)")
            }
            let fail = try await api.post("/v1/ai/fail", #"{"key":"k","lease_id":"lease_x","error_code":"boom"}"#)
            #expect(fail.errorCode == "lease_mismatch")
            #expect(try await api.get("/v1/ai/status?key=k").json["version"] == .int(1))
            let unknown = try await api.post("/v1/ai/extend", #"{"key":"nope","lease_id":"lease_x"}"#)
            #expect(unknown.status == .notFound)
            #expect(unknown.errorCode == "not_found")
            #expect(try await api.get("/v1/ai/status?key=nope").status == .notFound)
            #expect(try await api.get("/v1/ai/result?key=nope").status == .notFound)
        }
    }

    @Test("fail records the error; cancel frees the key for a higher version")
    func failAndCancel() async throws {
        try await APIHarness().run { api in
            let a = try await api.post("/v1/ai/lease", #"{"key":"f"}"#)
            let id = try #require(a.json["lease_id"]?.stringValue)
            let failed = try await api.post("/v1/ai/fail", #"{"key":"f","lease_id":"\#(id)","error_code":"fn_error"}"#)
            #expect(failed.json["status"] == .string("failed"))
            #expect(failed.json["error_code"] == .string("fn_error"))
            let status = try await api.get("/v1/ai/status?key=f")
            #expect(status.json["status"] == .string("failed"))
            #expect(status.json["error_code"] == .string("fn_error"))
            // Official clients see failed as final; once-exec's extension may retry.
            #expect(try await api.post("/v1/ai/lease", #"{"key":"f"}"#).json["status"] == .string("failed"))
            let retried = try await api.post("/v1/ai/lease", #"{"key":"f","retry_failed":true}"#)
            #expect(retried.json["status"] == .string("acquired"))
            #expect(retried.json["version"] == .int(3))

            let c = try await api.post("/v1/ai/lease", #"{"key":"c"}"#)
            let cid = try #require(c.json["lease_id"]?.stringValue)
            let canceled = try await api.post("/v1/ai/cancel", #"{"key":"c","lease_id":"\#(cid)","reason":"shutdown"}"#)
            #expect(canceled.json["status"] == .string("canceled"))
            #expect(try await api.get("/v1/ai/status?key=c").json["status"] == .string("canceled"))
            let reacquired = try await api.post("/v1/ai/lease", #"{"key":"c"}"#)
            #expect(reacquired.json["status"] == .string("acquired"))
            #expect(reacquired.json["version"] == .int(3))
            #expect(reacquired.json["lease_id"] != .string(cid))
        }
    }

    @Test("TTL: default from the plan, clamped to [min, plan max]")
    func ttlRules() async throws {
        try await APIHarness(plan: .free).run { api in
            let byDefault = try await api.post("/v1/ai/lease", #"{"key":"a"}"#)
            #expect(byDefault.json["ttl"] == .int(60))
            let short = try await api.post("/v1/ai/lease", #"{"key":"b","ttl":1}"#)
            #expect(short.json["ttl"] == .int(10))
            let long = try await api.post("/v1/ai/lease", #"{"key":"c","ttl":99999999}"#)
            #expect(long.json["ttl"] == .int(3600))
            let huge = try await api.post("/v1/check-lock", #"{"key":"d","ttl":9223372036854775807}"#)
            #expect(huge.json["ttl"] == .int(3600))
        }
    }

    @Test("lease metadata.run_id writes run_started and run_finished to the timeline")
    func leaseWritesRunEvents() async throws {
        try await APIHarness().run { api in
            let a = try await api.post("/v1/ai/lease", #"{"key":"r","metadata":{"run_id":"run-7","agent_id":"bot"}}"#)
            let id = try #require(a.json["lease_id"]?.stringValue)
            _ = try await api.post("/v1/ai/complete", #"{"key":"r","lease_id":"\#(id)","result":{}}"#)
            let timeline = try await api.get("/v1/runs/run-7")
            #expect(timeline.json["total"] == .int(2))
            guard case .array(let events)? = timeline.json["events"] else { Issue.record("no events"); return }
            #expect(events.map { $0["type"] } == [.string("run_started"), .string("run_finished")])
            #expect(events.map { $0["status"] } == [.string("started"), .string("completed")])
            #expect(events.first?["agent_id"] == .string("bot"))
            #expect(events.first?["lease_id"] == .string(id))
        }
    }
}
