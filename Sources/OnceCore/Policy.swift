/// An agent's governance policy (API §8), held as the JSON object clients send and read back.
///
/// Stored as that object so a field the server does not interpret is never silently
/// rewritten; ``Policy/parse(_:loc:)`` validates it and gives the typed view the decision
/// pipeline uses.
public struct Policy: Sendable, Equatable {
    public var allowedTools: [String]?
    public var blockedTools: [String]?
    public var maxActionsPerHour: Int64?
    public var maxSpendUSDPerDay: Double?
    public var maxCallsPerTool: [String: Int64]?
    public var pricingRules: [PricingRule]?

    public struct PricingRule: Sendable, Equatable {
        public var tool: String
        public var priceUSD: Double
    }

    public init() {}

    /// The policy fields, in the order the spec lists them.
    public static let fields = [
        "allowed_tools", "blocked_tools", "max_actions_per_hour", "max_spend_usd_per_day", "max_calls_per_tool",
        "pricing_rules",
    ]
    static let capFields: Set<String> = ["max_actions_per_hour", "max_spend_usd_per_day", "max_calls_per_tool"]

    /// Validates the policy fields present in `object` (other members are ignored, as unknown
    /// body fields are); `null` members are accepted (they delete on merge).
    public static func validate(_ object: [String: JSONValue], loc: [String]) -> [FieldIssue] {
        var issues: [FieldIssue] = []
        for name in fields {
            guard let value = object[name], !value.isNull else { continue }
            if let issue = check(name, value, loc: loc + [name]) { issues.append(issue) }
        }
        return issues
    }

    private static func check(_ name: String, _ value: JSONValue, loc: [String]) -> FieldIssue? {
        switch name {
        case "allowed_tools", "blocked_tools":
            guard case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) else {
                return FieldIssue(
                    type: "list_type", loc: loc, msg: "Input should be a valid list of strings", input: value)
            }
        case "max_actions_per_hour":
            guard let n = value.integerValue, n >= 0 else {
                return FieldIssue(
                    type: "int_type", loc: loc, msg: "Input should be a non-negative integer", input: value)
            }
        case "max_spend_usd_per_day":
            guard let d = value.numberValue, d >= 0 else {
                return FieldIssue(
                    type: "float_type", loc: loc, msg: "Input should be a non-negative number", input: value)
            }
        case "max_calls_per_tool":
            guard case .object(let members) = value, members.values.allSatisfy({ ($0.integerValue ?? -1) >= 0 })
            else {
                return FieldIssue(
                    type: "dict_type", loc: loc,
                    msg: "Input should be an object of tool names to non-negative integers",
                    input: value)
            }
        case "pricing_rules":
            guard case .array(let rules) = value,
                rules.allSatisfy({ $0["tool"]?.stringValue != nil && ($0["price_usd"]?.numberValue ?? -1) >= 0 })
            else {
                return FieldIssue(
                    type: "list_type", loc: loc,
                    msg: "Input should be a list of {\"tool\": string, \"price_usd\": non-negative number}",
                    input: value)
            }
        default:
            break
        }
        return nil
    }

    /// The typed view of a validated, stored policy object.
    public init(_ object: [String: JSONValue]) {
        allowedTools = object["allowed_tools"]?.stringArray
        blockedTools = object["blocked_tools"]?.stringArray
        maxActionsPerHour = object["max_actions_per_hour"]?.integerValue
        maxSpendUSDPerDay = object["max_spend_usd_per_day"]?.numberValue
        maxCallsPerTool = object["max_calls_per_tool"]?.objectValue?.compactMapValues(\.integerValue)
        if case .array(let rules)? = object["pricing_rules"] {
            pricingRules = rules.compactMap { rule in
                guard let tool = rule["tool"]?.stringValue, let price = rule["price_usd"]?.numberValue else {
                    return nil
                }
                return PricingRule(tool: tool, priceUSD: price)
            }
        }
    }

    /// Every tool name `object` refers to (lists, the per-tool map, pricing rules), sorted.
    public static func toolNames(in object: [String: JSONValue]) -> [String] {
        let typed = Policy(object)
        var names = Set<String>()
        names.formUnion(typed.allowedTools ?? [])
        names.formUnion(typed.blockedTools ?? [])
        names.formUnion(typed.maxCallsPerTool.map { Array($0.keys) } ?? [])
        names.formUnion(typed.pricingRules?.map(\.tool) ?? [])
        return names.sorted()
    }

    /// Upsert (API §15 row 26): a shallow merge of `patch`'s policy fields into `stored`, where a
    /// `null` removes the field; then the fields the plan does not include are dropped.
    public static func merge(_ patch: [String: JSONValue], into stored: [String: JSONValue]?, plan: Plan)
        -> [String: JSONValue]
    {
        var result = stored ?? [:]
        for name in fields {
            guard let value = patch[name] else { continue }
            result[name] = value.isNull ? nil : value
        }
        return trim(result, plan: plan)
    }

    /// Drops what the plan does not include (API §2, "trimmed").
    public static func trim(_ object: [String: JSONValue], plan: Plan) -> [String: JSONValue] {
        let entitled = Entitlements.of(plan)
        var result = object.filter { fields.contains($0.key) }
        if !entitled.policyCaps { for name in capFields { result[name] = nil } }
        if !entitled.pricingRules { result["pricing_rules"] = nil }
        return result
    }
}

/// The policy templates of API §8.2 (values are ours: the spec's recommended table).
public enum PolicyTemplate: String, Sendable, CaseIterable {
    case strict, moderate, permissive
    case readOnly = "read_only"
    case supportBot = "support_bot"

    public var policy: [String: JSONValue] {
        switch self {
        case .strict: ["max_actions_per_hour": .int(50), "max_spend_usd_per_day": .int(10)]
        case .moderate: ["max_actions_per_hour": .int(200), "max_spend_usd_per_day": .int(50)]
        case .permissive: ["max_actions_per_hour": .int(1000), "max_spend_usd_per_day": .int(500)]
        case .readOnly: ["max_actions_per_hour": .int(500), "max_spend_usd_per_day": .int(0)]
        case .supportBot:
            [
                "allowed_tools": .array(
                    ["send_email", "create_ticket", "read_knowledge_base", "read_customer_data", "read_order_history"]
                        .map { .string($0) }),
                "blocked_tools": .array(
                    ["delete_customer", "delete_ticket", "process_refund", "update_customer_data"].map { .string($0) }),
                "max_actions_per_hour": .int(150), "max_spend_usd_per_day": .int(50),
                "max_calls_per_tool": .object([
                    "send_email": .int(500), "create_ticket": .int(100), "read_knowledge_base": .int(1000),
                    "read_customer_data": .int(200),
                ]),
            ]
        }
    }
}

extension JSONValue {
    /// An integer, or a double with no fractional part (as pydantic's lax mode accepts).
    public var integerValue: Int64? {
        switch self {
        case .int(let i): Int64(i)
        case .double(let d) where d.isFinite && d == d.rounded() && abs(d) < 9.2e18: Int64(d)
        default: nil
        }
    }

    /// A finite number (`int` or `double`).
    public var numberValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d) where d.isFinite: d
        default: nil
        }
    }

    public var stringArray: [String]? {
        guard case .array(let items) = self else { return nil }
        let strings = items.compactMap(\.stringValue)
        return strings.count == items.count ? strings : nil
    }
}
