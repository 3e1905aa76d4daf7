import HTTPTypes
import OnceCore
import OnceServer
import Testing

@Suite("API: events, runs, usage, metrics, me")
struct EventsAPITests {
    @Test("post_event and the run timeline; runs list; events feed newest first")
    func eventsAndRuns() async throws {
        try await APIHarness().run { api in
            let posted = try await api.post(
                "/v1/events",
                #"{"run_id":"run support/1","type":"tool_call","status":"start","ts":1711871000,"tool":"send_email","data":{"c":1},"extra":"ignored"}"#
            )
            #expect(posted.status == .ok)
            #expect(posted.json["ok"] == .bool(true))
            #expect(posted.json["run_id"] == .string("run support/1"))
            guard case .int(let firstId)? = posted.json["event_id"] else { Issue.record("no event_id"); return }
            let second = try await api.post(
                "/v1/events", #"{"run_id":"run support/1","type":"tool_result","status":"executed","ts":1711871005}"#)
            guard case .int(let secondId)? = second.json["event_id"] else { Issue.record("no event_id"); return }
            #expect(secondId > firstId)

            // The TypeScript client percent-encodes the segment; decode once.
            let timeline = try await api.get("/v1/runs/run%20support%2F1?limit=10")
            #expect(timeline.status == .ok, "\(timeline.text)")
            #expect(timeline.json["run_id"] == .string("run support/1"))
            #expect(timeline.json["total"] == .int(2))
            guard case .array(let events)? = timeline.json["events"] else { Issue.record("no events"); return }
            #expect(events.map { $0["type"] } == [.string("tool_call"), .string("tool_result")])
            #expect(events[0]["ts"] == .int(1_711_871_000))
            #expect(events[0]["data"] == .object(["c": .int(1)]))
            #expect(events[1]["data"] == .object([:]))
            #expect(events[1]["duration_ms"] == .null)

            let unknown = try await api.get("/v1/runs/never")
            #expect(unknown.json == .object(["run_id": .string("never"), "total": .int(0), "events": .array([])]))

            let runs = try await api.get("/v1/runs?q=run%20sup")
            #expect(runs.json["total"] == .int(1))
            #expect(
                runs.json["items"]
                    == .array([
                        .object([
                            "run_id": .string("run support/1"), "last_ts": .int(1_711_871_005),
                            "last_type": .string("tool_result"),
                            "last_status": .string("executed"), "events_count": .int(2),
                        ])
                    ]))

            _ = try await api.post("/v1/check-lock", #"{"key":"one"}"#)
            _ = try await api.post("/v1/check-lock", #"{"key":"one"}"#)
            _ = try await api.post("/v1/ai/lease", #"{"key":"two"}"#)
            let feed = try await api.get("/v1/events?limit=2")
            guard case .array(let items) = feed.json else { Issue.record("feed is not an array: \(feed.text)"); return }
            #expect(items.map { $0["type"] } == [.string("ai_acquired"), .string("duplicate")])
            #expect(items[0]["key"] == .string("two"))
            #expect(items[1]["first_seen_at"]?.stringValue != nil)
            #expect(items.allSatisfy { $0["ts"] != nil && $0["req_id"]?.stringValue != nil })
        }
    }

    @Test("usage, usage/all, metrics and me count what happened")
    func counters() async throws {
        try await APIHarness(plan: .starter).run { api in
            _ = try await api.post("/v1/check-lock", #"{"key":"a"}"#)
            _ = try await api.post("/v1/check-lock", #"{"key":"a"}"#)
            let lease = try await api.post("/v1/ai/lease", #"{"key":"b"}"#)
            _ = try await api.post("/v1/ai/lease", #"{"key":"b"}"#)
            let id = try #require(lease.json["lease_id"]?.stringValue)
            _ = try await api.post("/v1/ai/complete", #"{"key":"b","lease_id":"\#(id)"}"#)

            let make = try await api.get("/v1/usage")
            #expect(make.json["plan"] == .string("starter"))
            #expect(make.json["usage"] == .int(1))
            #expect(make.json["limit"] == .int(20_000))
            #expect(make.json["requests_total_month"] == .int(2))
            let ai = try await api.get("/v1/usage?kind=ai")
            #expect(ai.json["usage"] == .int(1))
            #expect(ai.json["limit"] == .int(100_000))
            #expect(ai.json["requests_total_month"] == .int(2))

            let all = try await api.get("/v1/usage/all")
            #expect(all.headers[HTTPField.Name("X-OnceOnly-Plan")!] == "starter")
            #expect(all.headers[HTTPField.Name("X-OnceOnly-Month")!] == all.json["month"]?.stringValue)
            #expect(all.json["ai"]?["charged_total_month"] == .int(1))
            #expect(all.json["ai"]?["polling_total_month"] == .int(1))
            #expect(all.json["make"]?["usage"] == .int(1))

            let today = try #require(all.json["month"]?.stringValue)
            let metrics = try await api.get("/v1/metrics")
            guard case .array(let days) = metrics.json else { Issue.record("metrics: \(metrics.text)"); return }
            #expect(days.count == 30)
            let last = try #require(days.last)
            #expect(last["day"]?.stringValue?.hasPrefix(today) == true)
            #expect(last["checks_total"] == .int(2))
            #expect(last["locks_created"] == .int(1))
            #expect(last["duplicates_blocked"] == .int(1))
            #expect(last["ai_acquired"] == .int(1))
            #expect(last["ai_completed"] == .int(1))
            #expect(days.dropLast().allSatisfy { $0["checks_total"] == .int(0) })
            let range = try await api.get("/v1/metrics?from_day=2026-02-27&to_day=2026-03-01")
            guard case .array(let span) = range.json else { Issue.record("range"); return }
            #expect(span.map { $0["day"] } == [.string("2026-02-27"), .string("2026-02-28"), .string("2026-03-01")])

            let me = try await api.get("/v1/me")
            #expect(me.json["plan"] == .string("starter"))
            #expect(me.json["key_preview"]?.stringValue?.hasPrefix("once_live_") == true)
            #expect(me.json["is_active"] == .bool(true))
            #expect(me.json["requests_total_all_time"] == .int(4))
            #expect(me.json["blocked_total_all_time"] == .int(1))

            let updated = try await api.post("/v1/me/notifications", #"{"tool_error_notifications_enabled":false}"#)
            #expect(
                updated.json
                    == .object([
                        "email_notifications_enabled": .bool(true), "tool_error_notifications_enabled": .bool(false),
                        "run_failure_notifications_enabled": .bool(true),
                    ]))
        }
    }
}
