import Hummingbird
import OnceCore
import OnceStore

// Leases, check-lock keys, the activity feed and usage.
extension Dashboard {
    func leases(_ page: Page) async throws -> Response {
        let held = try await store.heldLeases(
            accountId: page.account.accountId, afterKey: page.query["after"], limit: Self.pageSize + 1)
        let shown = held.value.prefix(Self.pageSize)
        var rows: [[String: Any?]] = []
        for lease in shown {
            let holder = try await holder(of: lease, account: page.account)
            rows.append([
                "key": lease.key, "host": holder.host, "command": holder.command, "runId": lease.runId,
                "runHref": lease.runId.map(Self.runHref), "acquiredAt": DashboardFormat.time(lease.firstSeenAt),
                "deadline": DashboardFormat.time(lease.deadline), "secondsLeft": held.now.secondsUntil(lease.deadline),
                "version": lease.version,
            ])
        }
        let next =
            held.value.count > Self.pageSize ? shown.last.map { "/ui/leases?after=" + FormFields.encode($0.key) } : nil
        return html(
            "leases", page.values(["items": rows, "hasItems": !rows.isEmpty, "next": next], refresh: true))
    }

    /// Who holds a lease, as far as the server knows: the acquire's metadata (`host`,
    /// `command`/`argv`) when a client sent them, else once-exec's events on the lease's run
    /// (`child_spawned` says "pid N: ARGV"; a `run_record` has host and argv).
    func holder(of lease: LeaseRecord, account: AccountContext) async throws -> (host: String?, command: String?) {
        var host = lease.metadata?["host"]?.stringValue
        var command = lease.metadata?["command"]?.stringValue
        if command == nil, case .array(let argv)? = lease.metadata?["argv"] {
            command = argv.compactMap(\.stringValue).map(Self.shellQuoted).joined(separator: " ")
        }
        guard host == nil || command == nil, let runId = lease.runId else { return (host, command) }
        let timeline = try await store.runTimeline(account: account, runId: runId, limit: 200, offset: 0)
        for stored in timeline.events.reversed()
        where stored.event.leaseId == nil || stored.event.leaseId == lease.leaseId {
            let e = stored.event
            if host == nil, let h = e.data?["host"]?.stringValue { host = h }
            if command == nil, e.type == "child_spawned", let message = e.message,
                let colon = message.firstIndex(of: ":"), message.hasPrefix("pid ")
            {
                command = String(message[message.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        return (host, command)
    }

    func keys(_ page: Page) async throws -> Response {
        let locks = try await store.checkLocks(
            accountId: page.account.accountId, afterKey: page.query["after"], limit: Self.pageSize + 1)
        let shown = locks.value.prefix(Self.pageSize)
        let rows = shown.map { lock -> [String: Any?] in
            let live = lock.expiresAt > locks.now
            return [
                "key": lock.key, "state": live ? "locked" : "expired", "badge": live ? "good" : "warn",
                "firstSeen": DashboardFormat.time(lock.createdAt), "expires": DashboardFormat.time(lock.expiresAt),
                "ttl": lock.ttl, "metadata": lock.metadata.map { $0.canonicalText },
            ]
        }
        let next =
            locks.value.count > Self.pageSize ? shown.last.map { "/ui/keys?after=" + FormFields.encode($0.key) } : nil
        return html("keys", page.values(["items": rows, "hasItems": !rows.isEmpty, "next": next]))
    }

    static let feedTypes = [
        "locked", "duplicate", "over_limit", "ai_acquired", "ai_in_progress", "ai_extended", "ai_completed",
        "ai_failed", "ai_canceled", "ai_over_limit",
    ]

    func events(_ page: Page) async throws -> Response {
        let types = page.query.all("type")
        let before = page.query["before"].flatMap { Int64($0) }
        let events = try await store.feedPage(
            accountId: page.account.accountId, types: types, beforeId: before, limit: Self.pageSize + 1)
        let shown = events.prefix(Self.pageSize)
        let rows = shown.map { stored -> [String: Any?] in
            let e = stored.event
            return [
                "when": DashboardFormat.time(e.ts), "type": e.type, "badge": Self.badge(e.type), "key": e.key,
                "fields": DashboardFormat.fields(e.fields), "reqId": stored.reqId,
                "error": e.type == "ai_failed" || e.type.hasSuffix("over_limit"),
            ]
        }
        var next: String? = nil
        if events.count > Self.pageSize, let last = shown.last {
            let items: [(String, String?)] = types.map { ("type", $0) } + [("before", String(last.id))]
            next = "/ui/events" + FormFields.query(items)
        }
        let choices = (Self.feedTypes + types.filter { !Self.feedTypes.contains($0) }).map { type -> [String: Any?] in
            ["value": type, "checked": types.contains(type)]
        }
        return html(
            "events",
            page.values(["types": choices, "items": rows, "hasItems": !rows.isEmpty, "next": next], refresh: true))
    }

    func usage(_ page: Page) async throws -> Response {
        let days = page.query["days"] == "30" ? 30 : 14
        let now = store.now()
        let dayNames = (0..<days).reversed().map { now.adding(seconds: -86_400 * $0).day }
        let metrics = try await store.metrics(account: page.account, fromDay: dayNames[0], toDay: now.day)
        let series = dayNames.map { (day: $0, metrics: metrics[$0] ?? DayMetrics()) }
        let chart = UsageChart(days: series)
        let rows = series.reversed().map { item -> [String: Any?] in
            ["day": item.day, "values": DailyMetric.allCases.map { item.metrics[$0] }]
        }
        let ranges = [14, 30].map { n -> [String: Any?] in
            ["days": n, "href": "/ui/usage?days=\(n)", "current": n == days]
        }
        return html(
            "usage",
            page.values([
                "ranges": ranges, "chart": chart.values, "columns": DailyMetric.allCases.map(\.rawValue), "rows": rows,
            ]))
    }
}
