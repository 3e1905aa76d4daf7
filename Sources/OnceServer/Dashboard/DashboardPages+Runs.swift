import Foundation
import Hummingbird
import OnceCore
import OnceStore

// The overview and the run pages.
extension Dashboard {
    static let pageSize = 50

    func overview(_ page: Page) async throws -> Response {
        let account = page.account
        let now = store.now()
        let today = try await store.metrics(account: account, fromDay: now.day, toDay: now.day)[now.day] ?? DayMetrics()
        let counts = try await store.feedCounts(accountId: account.accountId, sinceSecondsAgo: 86_400)
        func day(_ type: String, expired: Bool? = nil) -> Int64 {
            counts.filter { count in
                guard count.type == type else { return false }
                guard let expired else { return true }
                return (count.errorCode == LeaseEngine.expiredErrorCode) == expired
            }.reduce(0) { $0 + $1.count }
        }
        let dayChecks = day("locked") + day("duplicate")
        let dayCompleted = day("ai_completed")
        let dayFailed = day("ai_failed", expired: false)
        let dayExpired = day("ai_failed", expired: true)
        let finished = dayCompleted + dayFailed + dayExpired
        let todayFinished = today[.aiCompleted] + today[.aiFailed]
        func rate(_ good: Int64, _ all: Int64) -> String {
            all == 0 ? "–" : "\(Int((Double(good) / Double(all) * 100).rounded())) %"
        }
        let cards: [[String: Any?]] = [
            ["label": "Check-locks", "today": today[.checksTotal], "day": dayChecks],
            ["label": "Duplicates blocked", "today": today[.duplicatesBlocked], "day": day("duplicate")],
            ["label": "Leases acquired", "today": today[.aiAcquired], "day": day("ai_acquired")],
            ["label": "Leases completed", "today": today[.aiCompleted], "day": dayCompleted],
            [
                "label": "Leases failed", "today": today[.aiFailed], "day": dayFailed + dayExpired,
                "bad": today[.aiFailed] > 0,
            ],
            ["label": "Leases expired", "today": "–", "day": dayExpired, "bad": dayExpired > 0],
            [
                "label": "Success rate", "today": rate(today[.aiCompleted], todayFinished),
                "day": rate(dayCompleted, finished),
            ],
            ["label": "Rate limited", "today": today[.rateLimited], "day": "–"],
        ]
        let held = try await store.heldLeases(accountId: account.accountId, afterKey: nil, limit: 501)
        let shownHeld = held.value.prefix(8).map { lease -> [String: Any?] in
            ["key": lease.key, "secondsLeft": held.now.secondsUntil(lease.deadline), "version": lease.version]
        }
        let failed = try await store.runsPage(
            accountId: account.accountId, filter: RunFilter(status: "failed"), after: nil, limit: 10)
        let failedItems = failed.map { item -> [String: Any?] in
            [
                "runId": item.summary.runId, "href": Self.runHref(item.summary.runId),
                "lastType": item.summary.lastType,
                "when": DashboardFormat.time(item.summary.lastTs),
            ]
        }
        return html(
            "overview",
            page.values(
                [
                    "cards": cards,
                    "heldCount": held.value.count > 500 ? "500+" : String(held.value.count),
                    "held": shownHeld.isEmpty ? nil : ["items": shownHeld] as [String: Any?],
                    "failed": failedItems.isEmpty ? nil : ["items": failedItems] as [String: Any?],
                ], refresh: true))
    }

    static func runHref(_ runId: String) -> String { "/ui/runs/" + FormFields.encode(runId) }

    static func badge(_ status: String?) -> String {
        guard let status = status?.lowercased() else { return "" }
        if ["completed", "ok", "success", "allowed", "locked", "enabled", "ai_completed", "ai_acquired"].contains(
            status)
        {
            return "good"
        }
        if DashboardFormat.isError(type: "", status: status) || status.hasPrefix("ai_failed") || status == "disabled"
            || status == "duplicate" || status.contains("over_limit")
        {
            return "bad"
        }
        if ["started", "held", "in_progress", "polling", "expired", "ai_in_progress"].contains(status) {
            return "warn"
        }
        return ""
    }

    func runs(_ page: Page) async throws -> Response {
        let filter = RunFilter(status: page.query["status"], key: page.query["key"], agentId: page.query["agent"])
        let cursor = page.query["after"].flatMap(Self.parseRunCursor)
        let items = try await store.runsPage(
            accountId: page.account.accountId, filter: filter, after: cursor, limit: Self.pageSize + 1)
        let shown = items.prefix(Self.pageSize)
        let rows = shown.map { item -> [String: Any?] in
            let s = item.summary
            return [
                "runId": s.runId, "href": Self.runHref(s.runId), "status": s.lastStatus,
                "badge": Self.badge(s.lastStatus),
                "lastType": s.lastType, "eventsCount": s.eventsCount, "when": DashboardFormat.time(s.lastTs),
                "error": DashboardFormat.isError(type: s.lastType, status: s.lastStatus),
            ]
        }
        var next: String? = nil
        if items.count > Self.pageSize, let last = shown.last {
            next =
                "/ui/runs"
                + FormFields.query([
                    ("status", filter.status), ("key", filter.key), ("agent", filter.agentId),
                    ("after", "\(last.cursor.lastTs.milliseconds)_\(last.cursor.lastEventId)"),
                ])
        }
        let known = ["failed", "completed", "started", "timeout", "lost", "canceled", "interrupted"]
        var statuses: [[String: Any?]] = [["value": "", "label": "any", "selected": filter.status == nil]]
        for status in known + [filter.status].compactMap({ $0 }).filter({ !known.contains($0) }) {
            statuses.append(["value": status, "label": status, "selected": filter.status == status])
        }
        return html(
            "runs",
            page.values([
                "statuses": statuses, "key": filter.key, "agent": filter.agentId, "items": rows,
                "hasItems": !rows.isEmpty, "next": next,
            ]))
    }

    /// `after=<last_ts ms>_<last_event_id>`; anything else starts from the newest.
    static func parseRunCursor(_ text: String) -> RunCursor? {
        let parts = text.split(separator: "_")
        guard parts.count == 2, let ts = Int64(parts[0]), let id = Int64(parts[1]) else { return nil }
        return RunCursor(lastTs: Timestamp(milliseconds: ts), lastEventId: id)
    }

    static let timelineLimit = 1000

    func run(_ page: Page, runId: String) async throws -> Response {
        let timeline = try await store.runTimeline(
            account: page.account, runId: runId, limit: Self.timelineLimit, offset: 0)
        guard timeline.total > 0 else { throw DashboardError.notFound("No run \(runId) in this account.") }
        let events = timeline.events.map { stored -> [String: Any?] in
            let e = stored.event
            return [
                "when": DashboardFormat.time(e.ts), "type": e.type, "status": e.status, "tool": e.tool, "step": e.step,
                "duration": DashboardFormat.duration(milliseconds: e.durationMs), "message": e.message,
                "data": e.data.map(DashboardFormat.prettyJSON),
                "error": DashboardFormat.isError(type: e.type, status: e.status),
            ]
        }
        // once-exec's record of the run, the last one if it was posted more than once.
        let record = timeline.events.last { $0.event.type == "run_record" }?.event.data.flatMap(Self.recordValues)
        return html(
            "run",
            page.values(
                [
                    "runId": runId, "events": events, "total": timeline.total, "record": record,
                    "truncated": timeline.total > timeline.events.count, "shown": timeline.events.count,
                ], title: "Run \(runId)"))
    }

    /// The summary box of a once-exec run record (see `RunRecord.json` in OnceExec).
    static func recordValues(_ data: JSONValue) -> [String: Any?]? {
        guard case .object(let r) = data else { return nil }
        let outcome = r["outcome"]?.stringValue ?? "unknown"
        var exit = "–"
        if case .int(let code)? = r["exit_code"] {
            exit = "exit code \(code)"
        } else if let signal = r["signal"]?.stringValue {
            exit = "killed by \(signal)"
        }
        let argv: [String] =
            if case .array(let items)? = r["argv"] { items.compactMap(\.stringValue) } else { [] }
        let key = r["key"]?.stringValue
        var duration: String? = nil
        if case .int(let ms)? = r["duration_ms"] { duration = DashboardFormat.duration(milliseconds: Int64(ms)) }
        return [
            "outcome": outcome, "badge": badge(outcome), "failed": outcome != "completed", "key": key,
            "keyQuery": key.map(FormFields.encode), "command": argv.map(shellQuoted).joined(separator: " "),
            "host": r["host"]?.stringValue, "pid": r["pid"].map { $0.canonicalText }, "exit": exit,
            "startedAt": r["started_at"]?.stringValue, "duration": duration, "errorCode": r["error_code"]?.stringValue,
            "stdout": r["stdout_tail"]?.stringValue, "stderr": r["stderr_tail"]?.stringValue,
        ]
    }

    /// How a shell would need the word written, so the command shown can be pasted.
    static func shellQuoted(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { c in
            CharacterSet.alphanumerics.contains(c) || "-_./=:,+@%".unicodeScalars.contains(c)
        }
        if plain && !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
