import HTTPTypes
import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    // MARK: GET /v1/usage, /v1/usage/all (API §12.1, §12.2)

    @Sendable func usage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        var query = QueryReader(request)
        let kindText = query.string("kind") ?? "make"
        let kind = UsageKind(rawValue: kindText)
        try query.finish()
        guard let kind else {
            throw APIError.invalid(
                FieldIssue(
                    type: "enum", loc: ["query", "kind"], msg: "Input should be 'make' or 'ai'",
                    input: .string(kindText)))
        }
        let month = store.now().month
        let counters = try await store.usage(account: account, month: month)[kind] ?? UsageCounters()
        return JSONResponse.make(
            .object([
                "plan": .string(account.plan.rawValue), "month": .string(month), "usage": .int(counters.usage),
                "limit": .int(account.plan.limits.limit(for: kind)), "requests_total_month": .int(counters.requests),
                "blocked_total_month": .int(counters.blocked),
            ]))
    }

    @Sendable func usageAll(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        let month = store.now().month
        let all = try await store.usage(account: account, month: month)
        var body: [String: JSONValue] = ["plan": .string(account.plan.rawValue), "month": .string(month)]
        for kind in UsageKind.allCases {
            let c = all[kind] ?? UsageCounters()
            body[kind.rawValue] = .object([
                "usage": .int(c.usage), "limit": .int(account.plan.limits.limit(for: kind)),
                "requests_total_month": .int(c.requests), "blocked_total_month": .int(c.blocked),
                "charged_total_month": .int(c.charged), "polling_total_month": .int(c.polling),
            ])
        }
        return JSONResponse.make(
            .object(body), headers: [.onceOnlyPlan: account.plan.rawValue, .onceOnlyMonth: month])
    }

    // MARK: GET /v1/metrics (API §12.3)

    @Sendable func metrics(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        var query = QueryReader(request)
        let today = store.now().unixSeconds / 86_400
        var issues: [FieldIssue] = []
        func day(_ name: String, default value: Int64) -> Int64 {
            guard let text = query.string(name) else { return value }
            guard let parsed = CivilTime.parseDay(text) else {
                issues.append(
                    FieldIssue(
                        type: "date_from_datetime_parsing", loc: ["query", name],
                        msg: "Input should be a valid date in the format YYYY-MM-DD", input: .string(text)))
                return value
            }
            return parsed
        }
        // Both bounds default (the last 30 days) so a client that sends none still gets rows.
        let to = day("to_day", default: today)
        let from = day("from_day", default: to - 29)
        try query.finish()
        if issues.isEmpty, from > to {
            issues.append(
                FieldIssue(
                    type: "value_error", loc: ["query", "from_day"], msg: "Value error, from_day is after to_day"))
        }
        if issues.isEmpty, to - from > 366 {
            issues.append(
                FieldIssue(
                    type: "value_error", loc: ["query", "to_day"],
                    msg: "Value error, the range spans more than 366 days"))
        }
        if !issues.isEmpty { throw APIError.validation(issues) }
        let fromText = Timestamp(seconds: from * 86_400).day
        let toText = Timestamp(seconds: to * 86_400).day
        let rows = try await store.metrics(account: account, fromDay: fromText, toDay: toText)
        return JSONResponse.make(
            .array(
                (from...to).map { d in
                    let name = Timestamp(seconds: d * 86_400).day
                    let m = rows[name] ?? DayMetrics()
                    var fields: [String: JSONValue] = ["day": .string(name)]
                    for metric in DailyMetric.allCases { fields[metric.rawValue] = .int(m[metric]) }
                    return .object(fields)
                }))
    }

    // MARK: GET /v1/me, POST /v1/me/notifications (API §12.4, §12.5)

    @Sendable func me(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        let summary = try await store.accountSummary(account: account)
        var body = Self.notificationsJSON(summary.notifications)
        body["plan"] = .string(summary.plan.rawValue)
        body["key_preview"] = .string(account.keyPreview)
        body["email"] = LeaseView.text(summary.email)
        body["is_active"] = .bool(true)
        body["current_period_end"] = .null
        body["requests_total_all_time"] = .int(summary.requestsAllTime)
        body["blocked_total_all_time"] = .int(summary.blockedAllTime)
        return JSONResponse.make(.object(body))
    }

    @Sendable func updateNotifications(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        let update = try await decode(NotificationsRequest.self, request).update
        let settings = try await store.updateNotifications(account: account, update)
        return JSONResponse.make(.object(Self.notificationsJSON(settings)))
    }

    static func notificationsJSON(_ n: NotificationSettings) -> [String: JSONValue] {
        [
            "email_notifications_enabled": .bool(n.email), "tool_error_notifications_enabled": .bool(n.toolErrors),
            "run_failure_notifications_enabled": .bool(n.runFailures),
        ]
    }
}
