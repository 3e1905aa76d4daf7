/// What an account may use, by plan (API §2, "Feature gates"). A self-hosted account is on
/// `agency` unless its operator chose another plan when creating its first key, so by default
/// everything is allowed; the table is the one place the gates live.
public struct Entitlements: Sendable, Equatable {
    /// `max_actions_per_hour`, `max_calls_per_tool`, `max_spend_usd_per_day` are kept when stored.
    public var policyCaps: Bool
    /// `pricing_rules` is kept when stored.
    public var pricingRules: Bool
    /// `POST /v1/policies/{agent_id}/from-template`.
    public var templates: Bool
    /// `GET /v1/agents/{agent_id}/logs` and `/metrics`.
    public var agentInsights: Bool
    /// `POST /v1/agents/{agent_id}/disable` and `/enable`. Pro and up, as the SDK READMEs say
    /// (API §15 row 29: the newest sources win over the API page's "agency only").
    public var killSwitch: Bool
    /// Registered tools per account.
    public var tools: Int

    public static func of(_ plan: Plan) -> Entitlements {
        switch plan {
        case .free:
            Entitlements(
                policyCaps: false, pricingRules: false, templates: false, agentInsights: false, killSwitch: false,
                tools: plan.limits.tools)
        case .starter:
            Entitlements(
                policyCaps: true, pricingRules: false, templates: false, agentInsights: false, killSwitch: false,
                tools: plan.limits.tools)
        case .pro, .agency:
            Entitlements(
                policyCaps: true, pricingRules: true, templates: true, agentInsights: true, killSwitch: true,
                tools: plan.limits.tools)
        }
    }
}
