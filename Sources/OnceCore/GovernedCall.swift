import OnceEncoding

/// What the store counts for one governed call before it is decided (API §7, §15 row 20): only
/// executed calls, in UTC calendar buckets.
public struct GovernanceWindow: Sendable, Equatable {
    /// Executed calls of the agent in the current UTC hour.
    public var actionsThisHour: Int64
    /// Executed calls of this tool by the agent in the current UTC day.
    public var toolCallsToday: Int64
    /// Spend of the agent's executed calls in the current UTC day.
    public var spendToday: Double
    /// The result of the newest successful identical call inside the dedup window, if any.
    public var dedupResult: JSONValue?

    public init(actionsThisHour: Int64, toolCallsToday: Int64, spendToday: Double, dedupResult: JSONValue?) {
        self.actionsThisHour = actionsThisHour
        self.toolCallsToday = toolCallsToday
        self.spendToday = spendToday
        self.dedupResult = dedupResult
    }

    /// Where the buckets start for a call at `now`.
    public static func bounds(now: Timestamp, dedupSeconds: Int) -> (hour: Timestamp, day: Timestamp, dedup: Timestamp)
    {
        let s = now.unixSeconds
        return (
            Timestamp(seconds: s - s % 3_600 - (s % 3_600 < 0 ? 3_600 : 0)),
            Timestamp(seconds: s - s % 86_400 - (s % 86_400 < 0 ? 86_400 : 0)),
            now.adding(seconds: -dedupSeconds)
        )
    }
}

/// The decision pipeline of API §7, steps 1–7, as a pure function; step 8 (dispatch) is the
/// caller's once this says `.dispatch`.
public enum GovernedCall {
    public enum Verdict: Sendable, Equatable {
        case blocked(reason: String)
        /// Step 7: an identical call already executed; its result is answered again.
        case dedup(result: JSONValue)
        case dispatch
    }

    public static func decide(
        agentEnabled: Bool, policy: Policy?, tool: String, price: Double, window: GovernanceWindow
    ) -> Verdict {
        if !agentEnabled { return .blocked(reason: "agent_disabled") }
        if let policy {
            if policy.blockedTools?.contains(tool) == true { return .blocked(reason: "tool_explicitly_blocked") }
            if let allowed = policy.allowedTools, !allowed.isEmpty, !allowed.contains(tool) {
                return .blocked(reason: "tool_not_in_allowed_list")
            }
            if let cap = policy.maxActionsPerHour, window.actionsThisHour >= cap {
                return .blocked(reason: "max_actions_per_hour_exceeded")
            }
            if let cap = policy.maxCallsPerTool?[tool], window.toolCallsToday >= cap {
                return .blocked(reason: "max_calls_per_tool_exceeded")
            }
            // A cap of 0 blocks only calls with a price (API §8.2, `read_only`).
            if let cap = policy.maxSpendUSDPerDay, window.spendToday + price > cap {
                return .blocked(reason: "max_spend_usd_per_day_exceeded")
            }
        }
        if let result = window.dedupResult { return .dedup(result: result) }
        return .dispatch
    }

    /// The price of a call: a matching pricing rule, else the requested `spend_usd`, else 0.
    public static func price(policy: Policy?, tool: String, requested: Double?) -> Double {
        policy?.pricingRules?.first(where: { $0.tool == tool })?.priceUSD ?? requested ?? 0
    }

    /// From the tool's name (API §7, recommended): destructive or money-moving names are high,
    /// other writes medium, the rest low.
    public static func riskLevel(tool: String) -> String {
        let name = tool.lowercased()
        let last = name.split(whereSeparator: { ".:".contains($0) }).last.map(String.init) ?? name
        if ["delete", "drop"].contains(where: { name.hasPrefix($0) || last.hasPrefix($0) })
            || ["refund", "charge", "payment"].contains(where: { name.contains($0) })
        {
            return "high"
        }
        if ["create", "update", "send", "write"].contains(where: { name.hasPrefix($0) || last.hasPrefix($0) }) {
            return "medium"
        }
        return "low"
    }

    /// The first 16 hex characters of SHA-256 over the canonical args (API §9.3).
    public static func argsHash(_ args: [String: JSONValue]) -> String {
        String(JSONValue.object(args).canonicalHash.prefix(16))
    }
}
