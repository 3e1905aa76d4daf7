import Foundation
import OnceCore
import Testing

/// once-server's `run_events` extension on complete, fail and cancel: the end of a run's
/// timeline written with the finish, in its transaction, only if the finish applied.
@Suite("API: run_events with the finish")
struct RunEventsAPITests {
    static let events =
        #"[{"type":"child_exited","message":"exit 0"},"#
        + #"{"type":"run_record","status":"completed","message":"ok","data":{"exit":0,"argv":["true"]}}]"#

    /// Acquires `key` with `metadata.run_id` = `runId`; returns the lease id.
    static func acquire(_ api: APIClient, _ key: String, runId: String?) async throws -> String {
        let metadata = runId.map { #","metadata":{"run_id":"\#($0)"}"# } ?? ""
        let a = try await api.post("/v1/ai/lease", #"{"key":"\#(key)","ttl":60\#(metadata)}"#)
        return try #require(a.json["lease_id"]?.stringValue)
    }

    static func timeline(_ api: APIClient, _ runId: String) async throws -> [JSONValue] {
        guard case .array(let events)? = try await api.get("/v1/runs/\(runId)").json["events"] else { return [] }
        return events
    }

    @Test("complete, fail and cancel write them under the lease's run_id and acknowledge them")
    func applied() async throws {
        try await APIHarness().run { api in
            let bodies = [
                ("/v1/ai/complete", #""result":{"n":1}"#, "completed"),
                ("/v1/ai/fail", #""error_code":"exit_1""#, "failed"),
                ("/v1/ai/cancel", #""reason":"interrupted by SIGINT""#, "canceled"),
            ]
            for (n, (path, extra, status)) in bodies.enumerated() {
                let id = try await Self.acquire(api, "k\(n)", runId: "run-\(n)")
                let r = try await api.post(
                    path, #"{"key":"k\#(n)","lease_id":"\#(id)",\#(extra),"run_events":\#(Self.events)}"#)
                #expect(r.status == .ok, "\(path): \(r.text)")
                #expect(r.json["status"] == .string(status))
                #expect(r.json["run_events_recorded"] == .int(2), "\(path)")
                let events = try await Self.timeline(api, "run-\(n)")
                #expect(
                    events.map { $0["type"]?.stringValue }
                        == ["run_started", "child_exited", "run_record", "run_finished"], "\(path)")
                guard events.count == 4 else { continue }
                let record = events[2]
                #expect(record["status"] == .string("completed"))
                #expect(record["message"] == .string("ok"))
                #expect(record["data"] == .object(["exit": .int(0), "argv": .array([.string("true")])]))
                #expect(record["lease_id"] == .string(id))
                #expect(events[1]["message"] == .string("exit 0"))
                #expect(events.last?["status"] == .string(status))
            }
        }
    }

    @Test("a refused finish (wrong lease_id, finished lease) writes nothing and acknowledges nothing")
    func refused() async throws {
        try await APIHarness().run { api in
            let id = try await Self.acquire(api, "r", runId: "run-r")
            let wrong = try await api.post(
                "/v1/ai/complete", #"{"key":"r","lease_id":"lease_not_mine","run_events":\#(Self.events)}"#)
            #expect(wrong.status == .conflict)
            #expect(wrong.json["run_events_recorded"] == nil)
            #expect(try await Self.timeline(api, "run-r").map { $0["type"]?.stringValue } == ["run_started"])

            // The holder's own finish still works and writes them once.
            let right = try await api.post(
                "/v1/ai/complete", #"{"key":"r","lease_id":"\#(id)","run_events":\#(Self.events)}"#)
            #expect(right.json["run_events_recorded"] == .int(2))
            // A replay (a retry after a lost answer) is answered again but writes nothing more.
            let replay = try await api.post(
                "/v1/ai/complete", #"{"key":"r","lease_id":"\#(id)","run_events":\#(Self.events)}"#)
            #expect(replay.status == .ok)
            #expect(replay.json["run_events_recorded"] == .int(0))
            // Finishing a finished lease differently is refused.
            let late = try await api.post(
                "/v1/ai/fail", #"{"key":"r","lease_id":"\#(id)","error_code":"x","run_events":\#(Self.events)}"#)
            #expect(late.status == .conflict)
            #expect(
                try await Self.timeline(api, "run-r").map { $0["type"]?.stringValue }
                    == ["run_started", "child_exited", "run_record", "run_finished"])
        }
    }

    @Test("without run_events the answer is the API's; a lease without a run_id records none")
    func absent() async throws {
        try await APIHarness().run { api in
            let id = try await Self.acquire(api, "a", runId: "run-a")
            let plain = try await api.post("/v1/ai/complete", #"{"key":"a","lease_id":"\#(id)"}"#)
            #expect(plain.status == .ok)
            #expect(plain.json["run_events_recorded"] == nil)
            #expect(!plain.text.contains("run_events"))

            let anonymous = try await Self.acquire(api, "b", runId: nil)
            let r = try await api.post(
                "/v1/ai/complete", #"{"key":"b","lease_id":"\#(anonymous)","run_events":\#(Self.events)}"#)
            #expect(r.status == .ok)
            #expect(r.json["run_events_recorded"] == .int(0))
        }
    }

    @Test("a bad run_events is a 422 naming it, and neither the finish nor the events happen")
    func badShape() async throws {
        let tooMany = "[" + Array(repeating: #"{"type":"x"}"#, count: 33).joined(separator: ",") + "]"
        let big = String(repeating: "a", count: 17 * 1024)
        let cases: [(String, String)] = [
            (#"{"type":"x"}"#, "body.run_events"),
            (#"["x"]"#, "body.run_events.0"),
            (#"[{"type":"ok"},{"message":"no type"}]"#, "body.run_events.1.type"),
            (#"[{"type":7}]"#, "body.run_events.0.type"),
            (#"[{"type":" "}]"#, "body.run_events.0.type"),
            (#"[{"type":"x","data":[1]}]"#, "body.run_events.0.data"),
            (#"[{"type":"x","data":{"s":"\#(big)"}}]"#, "body.run_events.0.data"),
            (#"[{"type":"x","status":false}]"#, "body.run_events.0.status"),
            (tooMany, "body.run_events"),
        ]
        try await APIHarness().run { api in
            let id = try await Self.acquire(api, "bad", runId: "run-bad")
            for (value, loc) in cases {
                for path in ["/v1/ai/complete", "/v1/ai/cancel"] {
                    let r = try await api.post(path, #"{"key":"bad","lease_id":"\#(id)","run_events":\#(value)}"#)
                    #expect(r.status == .unprocessableContent, "\(path) \(value.prefix(60))")
                    #expect(r.issueLocations.contains(loc), "\(path) \(value.prefix(60)): \(r.issueLocations)")
                }
            }
            // Nothing changed: the lease is still held by the same holder, the timeline untouched.
            #expect(try await api.get("/v1/ai/status?key=bad").json["status"] == .string("in_progress"))
            #expect(try await Self.timeline(api, "run-bad").map { $0["type"]?.stringValue } == ["run_started"])
            let fine = try await api.post(
                "/v1/ai/complete", #"{"key":"bad","lease_id":"\#(id)","run_events":[]}"#)
            #expect(fine.json["run_events_recorded"] == .int(0))
        }
    }
}
