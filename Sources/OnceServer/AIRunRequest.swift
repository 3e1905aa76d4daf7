import Hummingbird
import OnceCore

/// POST /v1/ai/run (API §6): `key` → mode A (a keyed background run); `agent_id` + `tool` →
/// mode B (one governed call). Both or neither → 422.
enum AIRunRequest: BodyRequest {
    case keyed(KeyedRun)
    case tool(ToolCall)

    struct KeyedRun: Sendable {
        var key: String
        var ttl: Int64?
        var metadata: JSONValue?
        var runId: String
        var agentId: String?
        /// The first 50 planned actions.
        var actions: [Action]
        var dryRun: Bool
    }

    struct Action: Sendable, Equatable {
        var tool: String
        var args: [String: JSONValue]
        var spendUSD: Double?
    }

    struct ToolCall: Sendable {
        var agentId: String
        var tool: String
        var args: [String: JSONValue]
        var spendUSD: Double?
        var runId: String?
    }

    static let maxActions = 50

    init(_ body: inout BodyReader) throws {
        let hasKey = !(body.members["key"]?.isNull ?? true)
        let hasCall = !(body.members["agent_id"]?.isNull ?? true) || !(body.members["tool"]?.isNull ?? true)
        guard hasKey != hasCall else {
            throw APIError.invalid(
                FieldIssue(
                    type: "value_error", loc: ["body"],
                    msg: hasKey
                        ? "Value error, send either key (mode A) or agent_id and tool (mode B), not both"
                        : "Value error, send key (mode A) or agent_id and tool (mode B)",
                    input: .object(body.members)))
        }
        self = hasKey ? .keyed(try Self.keyed(&body)) : .tool(try Self.call(&body))
    }

    private static func call(_ body: inout BodyReader) throws -> ToolCall {
        let agentId = body.string("agent_id", required: true, maxLength: 256, nonBlank: true)
        let tool = body.string("tool", required: true, maxLength: 128, nonBlank: true)
        var args = body.object("args")?.objectValue ?? [:]
        let spend = Self.spend(body.members["spend_usd"], loc: ["body", "spend_usd"], &body)
        guard body.issues.isEmpty, let agentId, let tool else { throw body.failure }
        // The SDKs carry the timeline id inside args (API §6.2).
        let runId = args.removeValue(forKey: "run_id")?.stringValue
        return ToolCall(agentId: agentId, tool: tool, args: args, spendUSD: spend, runId: runId)
    }

    private static func keyed(_ body: inout BodyReader) throws -> KeyedRun {
        let key = body.key()
        let ttl = body.ttl()
        let metadata = body.metadata()
        let meta = metadata?.objectValue ?? [:]
        var actions: [Action] = []
        if let raw = meta["actions"], !raw.isNull {
            if case .array(let items) = raw {
                for (index, item) in items.prefix(maxActions).enumerated() {
                    let loc = ["body", "metadata", "actions", String(index)]
                    guard let tool = item["tool"]?.stringValue, !tool.isEmpty else {
                        body.add(.missing(loc + ["tool"], input: item))
                        continue
                    }
                    let args = item["args"]
                    if let args, !args.isNull, args.objectValue == nil {
                        body.add(
                            FieldIssue(
                                type: "dict_type", loc: loc + ["args"], msg: "Input should be a valid dictionary",
                                input: args))
                    }
                    let spend = Self.spend(item["spend_usd"], loc: loc + ["spend_usd"], &body)
                    actions.append(Action(tool: tool, args: args?.objectValue ?? [:], spendUSD: spend))
                }
            } else {
                body.add(
                    FieldIssue(
                        type: "list_type", loc: ["body", "metadata", "actions"], msg: "Input should be a valid list",
                        input: raw))
            }
        }
        let agentId = meta["agent_id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let runId = meta["run_id"]?.stringValue
        guard body.issues.isEmpty, let key else { throw body.failure }
        return KeyedRun(
            key: key, ttl: ttl, metadata: metadata, runId: runId ?? key, agentId: agentId, actions: actions,
            dryRun: Self.truthy(meta["dry_run"]))
    }

    /// `true`, `"true"` (any case), `"1"` or `1` (API §6.1: boolean-like).
    static func truthy(_ value: JSONValue?) -> Bool {
        switch value {
        case .bool(let b)?: b
        case .int(let i)?: i == 1
        case .string(let s)?: ["true", "1", "yes"].contains(s.lowercased())
        default: false
        }
    }

    private static func spend(_ value: JSONValue?, loc: [String], _ body: inout BodyReader) -> Double? {
        guard let value, !value.isNull else { return nil }
        guard let d = value.numberValue, d >= 0 else {
            body.add(
                FieldIssue(type: "float_type", loc: loc, msg: "Input should be a non-negative number", input: value))
            return nil
        }
        return d
    }
}
