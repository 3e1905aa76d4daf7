import Foundation
import OnceOnly
import Testing

@Suite("Account, usage, metrics, events and runs against once-server")
struct AccountTests {
    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }

    @Test("me and updateNotifications")
    func me() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let me = try await client.me()
            #expect(me["plan"] == "agency")
            #expect(me["is_active"] == true)
            #expect(me["key_preview"]?.stringValue?.isEmpty == false)
            let updated = try await client.updateNotifications(
                emailNotificationsEnabled: true, runFailureNotificationsEnabled: false)
            #expect(updated["email_notifications_enabled"] == true)
            #expect(updated["run_failure_notifications_enabled"] == false)
            let again = try await client.updateNotifications(toolErrorNotificationsEnabled: false)
            #expect(again["tool_error_notifications_enabled"] == false)
            #expect(again["run_failure_notifications_enabled"] == false)
            #expect(try await client.me()["tool_error_notifications_enabled"] == false)
            await #expect(
                throws: OnceOnlyError.invalidArgument("updateNotifications requires at least one preference field")
            ) { try await client.updateNotifications() }
        }
    }

    @Test("usage, usageAll and metrics count check-locks and leases")
    func usage() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            _ = try await client.checkLock(key: "u", ttl: 60)
            _ = try await client.checkLock(key: "u", ttl: 60)
            let leaseId = try #require(try await client.ai.lease(key: "l", ttl: 60).leaseId)
            _ = try await client.ai.complete(key: "l", leaseId: leaseId)

            let make = try await client.usage()
            #expect(make["plan"] == "agency" && make["requests_total_month"] == 2)
            let ai = try await client.usage(kind: "ai")
            #expect(ai["usage"] == 1)
            await #expect(throws: OnceOnlyError.self) { try await client.usage(kind: "bogus") }
            let all = try await client.usageAll()
            #expect(all["make"]?["requests_total_month"] == 2)
            #expect(all["ai"]?["charged_total_month"] == 1)

            let day = Self.today()
            let metrics = try await client.metrics(fromDay: day, toDay: day)
            let rows = try #require(metrics["data"]?.arrayValue)
            #expect(rows.count == 1)
            #expect(rows[0]["day"] == .string(day))
            #expect(rows[0]["checks_total"] == 2 && rows[0]["locks_created"] == 1)
            #expect(rows[0]["duplicates_blocked"] == 1)
            #expect(rows[0]["ai_acquired"] == 1 && rows[0]["ai_completed"] == 1)
            let reversed = await #expect(throws: OnceOnlyError.self, "from after to is rejected") {
                try await client.metrics(fromDay: day, toDay: "2000-01-01")
            }
            #expect(reversed?.statusCode == 422)
        }
    }

    @Test("postEvent, getRunTimeline, listRuns and the events feed")
    func events() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let posted = try await client.postEvent(
                runId: "  run_support_001 ", type: " tool_call ", ts: 1_711_871_000, status: "start", durationMs: 12,
                step: "step_1", tool: "send_email", reqId: "req-9", leaseId: "lease_x", agentId: "support_bot",
                message: "hi", data: ["customer_id": "cus_123"], extra: ["custom": "kept?"])
            #expect(posted["ok"] == true && posted["run_id"] == "run_support_001")
            let firstId = try #require(posted["event_id"]?.intValue)
            let second = try await client.postEvent(runId: "run_support_001", type: "note")
            #expect(second["event_id"]?.intValue ?? 0 > firstId)
            _ = try await client.postEvent(runId: "run/with space", type: "note")

            let timeline = try await client.getRunTimeline(runId: "run_support_001")
            #expect(timeline["run_id"] == "run_support_001" && timeline["total"] == 2)
            let events = try #require(timeline["events"]?.arrayValue)
            #expect(events.count == 2)
            #expect(events[0]["type"] == "tool_call" && events[0]["status"] == "start")
            #expect(events[0]["ts"] == 1_711_871_000 && events[0]["duration_ms"] == 12)
            #expect(events[0]["step"] == "step_1" && events[0]["tool"] == "send_email")
            #expect(events[0]["req_id"] == "req-9" && events[0]["lease_id"] == "lease_x")
            #expect(events[0]["agent_id"] == "support_bot" && events[0]["message"] == "hi")
            #expect(events[0]["data"] == ["customer_id": "cus_123"])
            let page = try await client.getRunTimeline(runId: "run_support_001", limit: 1, offset: 1)
            #expect(page["total"] == 2 && page["events"]?.arrayValue?.count == 1)
            #expect(page["events"]?[0]?["type"] == "note")
            let encoded = try await client.getRunTimeline(runId: "run/with space")
            #expect(encoded["total"] == 1, "run ids are percent-encoded in the path")
            let unknown = try await client.getRunTimeline(runId: "nope")
            #expect(unknown["total"] == 0 && unknown["events"] == [])

            let runs = try await client.listRuns()
            #expect(runs["total"] == 2)
            let filtered = try await client.listRuns(limit: 10, offset: 0, q: "run_sup")
            #expect(filtered["items"]?.arrayValue?.map { $0["run_id"] } == ["run_support_001"])

            _ = try await client.checkLock(key: "feed", ttl: 60)
            let feed = try await client.events(limit: 10)
            let items = try #require(feed["data"]?.arrayValue)
            #expect(items.first?["type"] == "locked" && items.first?["key"] == "feed")

            await #expect(throws: OnceOnlyError.invalidArgument("run_id must not be empty")) {
                try await client.postEvent(runId: "  ", type: "note")
            }
            await #expect(throws: OnceOnlyError.invalidArgument("type must not be empty")) {
                try await client.postEvent(runId: "r", type: "")
            }
            await #expect(throws: OnceOnlyError.invalidArgument("run_id must not be empty")) {
                try await client.getRunTimeline(runId: " ")
            }
        }
    }
}
