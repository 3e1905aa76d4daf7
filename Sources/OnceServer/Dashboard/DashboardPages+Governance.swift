import Foundation
import Hummingbird
import OnceCore
import OnceStore

// Agents (policy, kill switch, decision log, metrics) and the tools their policies name.
extension Dashboard {
    func agents(_ page: Page) async throws -> Response {
        let accountId = page.account.accountId
        let policies = try await store.policies(accountId: accountId, agentId: nil)
        var rows: [[String: Any?]] = []
        for (agentId, _) in policies.prefix(200) {
            let state = try await store.agentState(accountId: accountId, agentId: agentId)
            let metrics = try await store.agentMetrics(accountId: accountId, agentId: agentId, sinceSecondsAgo: 86_400)
            rows.append([
                "agentId": agentId, "href": "/ui/agents/" + FormFields.encode(agentId),
                "state": state.enabled ? "enabled" : "disabled", "badge": state.enabled ? "good" : "bad",
                "total": metrics.totalActions, "blocked": metrics.blockedActions,
                "spend": String(format: "%.2f", metrics.totalSpendUSD),
            ])
        }
        return html("agents", page.values(["items": rows, "hasItems": !rows.isEmpty]))
    }

    func agent(_ page: Page, agentId: String) async throws -> Response {
        let accountId = page.account.accountId
        let policy = try await store.policies(accountId: accountId, agentId: agentId).first?.policy
        let state = try await store.agentState(accountId: accountId, agentId: agentId)
        let metrics = try await store.agentMetrics(accountId: accountId, agentId: agentId, sinceSecondsAgo: 86_400)
        let logs = try await store.agentLogs(accountId: accountId, agentId: agentId, limit: 100)
        let logRows = logs.map { d -> [String: Any?] in
            [
                "when": DashboardFormat.time(d.ts), "tool": d.tool, "decision": d.decision,
                "badge": Self.badge(d.decision),
                "reason": d.policyReason, "risk": d.riskLevel, "spend": String(format: "%.4f", d.spendUSD),
                "blocked": !d.allowed,
            ]
        }
        var reason: String? = nil
        if !state.enabled {
            reason = [state.disabledReason, state.disabledAt.map { "since " + DashboardFormat.time($0) }]
                .compactMap { $0 }.joined(separator: " · ")
        }
        let top = metrics.topTools.map { tool -> [String: Any?] in ["tool": tool.tool, "count": tool.count] }
        return html(
            "agent",
            page.values(
                [
                    "agentId": agentId, "state": state.enabled ? "enabled" : "disabled", "disabled": !state.enabled,
                    "reason": reason, "total": metrics.totalActions, "blocked": metrics.blockedActions,
                    "anyBlocked": metrics.blockedActions > 0, "spend": String(format: "%.2f", metrics.totalSpendUSD),
                    "topTools": top.isEmpty ? nil : ["items": top] as [String: Any?],
                    "policy": policy.map { DashboardFormat.prettyJSON(.object($0)) }, "logs": logRows,
                    "hasLogs": !logRows.isEmpty,
                ], title: "Agent \(agentId)"))
    }

    /// The account's registered tools (`POST /v1/tools`: scope, URL, timeout, enabled, whether a
    /// secret is stored) beside what the policies say of each name (who may call it, limits,
    /// prices); a name a policy uses that is not registered is listed too. The secret itself,
    /// its mask and its id never reach this page: only whether one is sealed.
    func tools(_ page: Page) async throws -> Response {
        let accountId = page.account.accountId
        let registered = try await store.tools(accountId: accountId, scopeId: nil)
        let policies = try await store.policies(accountId: accountId, agentId: nil)
        var table: [String: (allowed: [String], blocked: [String], limits: [String], prices: [String])] = [:]
        for (agentId, object) in policies {
            let typed = Policy(object)
            for name in Policy.toolNames(in: object) {
                var row = table[name] ?? ([], [], [], [])
                if typed.allowedTools?.contains(name) == true { row.allowed.append(agentId) }
                if typed.blockedTools?.contains(name) == true { row.blocked.append(agentId) }
                if let cap = typed.maxCallsPerTool?[name] { row.limits.append("\(agentId): \(cap)/day") }
                for rule in typed.pricingRules ?? [] where rule.tool == name {
                    row.prices.append("\(agentId): \(String(format: "%.4f", rule.priceUSD))")
                }
                table[name] = row
            }
        }
        func policyColumns(_ name: String) -> [String: Any?] {
            let row = table[name] ?? ([], [], [], [])
            return [
                "allowed": row.allowed.joined(separator: ", "), "blocked": row.blocked.joined(separator: ", "),
                "limits": row.limits.joined(separator: ", "), "prices": row.prices.joined(separator: ", "),
            ]
        }
        var rows: [[String: Any?]] = registered.map { tool in
            var row = policyColumns(tool.name)
            row["name"] = tool.name
            row["registered"] = true
            row["scope"] = tool.scopeId
            row["url"] = tool.url
            row["enabled"] = tool.enabled
            row["timeout"] = "\(tool.timeoutMs) ms, \(tool.maxRetries) retries"
            row["secret"] = tool.secret == nil ? "none" : "sealed"
            row["description"] = tool.description
            return row
        }
        let names = Set(registered.map(\.name))
        for name in table.keys.sorted() where !names.contains(name) {
            var row = policyColumns(name)
            row["name"] = name
            row["registered"] = false
            rows.append(row)
        }
        return html("tools", page.values(["items": rows, "hasItems": !rows.isEmpty]))
    }
}
