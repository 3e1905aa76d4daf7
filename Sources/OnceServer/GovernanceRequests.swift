import Hummingbird
import OnceCore

extension AuthenticatedContext {
    /// A path segment (`agent_id`), decoded once (the TypeScript client percent-encodes every
    /// segment); 422 when it is not UTF-8, empty or longer than 256 characters.
    func pathSegment(_ name: String) throws -> String {
        guard let raw = parameters.get(name), let value = QueryReader.decodePathSegment(raw), !value.isEmpty,
            value.unicodeScalars.count <= 256
        else {
            throw APIError.invalid(
                FieldIssue(
                    type: "string_type", loc: ["path", name], msg: "Input should be a string of 1 to 256 characters"))
        }
        if let issue = Rules.checkNoNUL(value, loc: ["path", name]) { throw APIError.invalid(issue) }
        return value
    }

    /// 403 `feature_not_available` unless the account's plan includes `feature`.
    func require(_ feature: KeyPath<Entitlements, Bool>, _ what: String) throws {
        guard Entitlements.of(account.plan)[keyPath: feature] else {
            throw APIError.featureNotAvailable("\(what) is not included in the \(account.plan.rawValue) plan")
        }
    }
}

/// POST /v1/policies/{agent_id} (API §8.1): the policy fields, and `agent_id` equal to the path's.
struct PolicyUpsertRequest: BodyRequest {
    /// The policy members sent (a `null` deletes the field on merge).
    var patch: [String: JSONValue]
    var agentId: String?

    init(_ body: inout BodyReader) throws {
        agentId = body.string("agent_id", maxLength: 256)
        for issue in Policy.validate(body.members, loc: ["body"]) { body.add(issue) }
        guard body.issues.isEmpty else { throw body.failure }
        patch = body.members.filter { Policy.fields.contains($0.key) }
    }
}

/// POST /v1/policies/{agent_id}/from-template (API §8.2).
struct PolicyTemplateRequest: BodyRequest {
    var template: PolicyTemplate
    var overrides: [String: JSONValue]
    var agentId: String?

    init(_ body: inout BodyReader) throws {
        agentId = body.string("agent_id", maxLength: 256)
        let name = body.string("template", required: true)
        var template: PolicyTemplate?
        if let name {
            template = PolicyTemplate(rawValue: name)
            if template == nil {
                body.add(
                    FieldIssue(
                        type: "enum", loc: ["body", "template"],
                        msg: "Input should be "
                            + PolicyTemplate.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "),
                        input: .string(name)))
            }
        }
        let overrides = body.object("overrides")?.objectValue ?? [:]
        for issue in Policy.validate(overrides, loc: ["body", "overrides"]) { body.add(issue) }
        guard body.issues.isEmpty, let template else { throw body.failure }
        self.template = template
        self.overrides = overrides.filter { Policy.fields.contains($0.key) }
    }
}

/// POST /v1/agents/{agent_id}/disable and /enable: an optional `reason`; the body may be empty.
struct AgentSwitchRequest: Sendable {
    var reason: String?

    static func read(_ request: Request, limit: Int) async throws -> AgentSwitchRequest {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError.bodyTooLarge(limit: limit)
        }
        // The SDKs send `{}`; a bare POST with no body is as good.
        guard buffer.readableBytes > 0 else { return AgentSwitchRequest(reason: nil) }
        var body = try BodyReader.parse(buffer)
        let reason = body.string("reason", maxLength: 1024)
        guard body.issues.isEmpty else { throw body.failure }
        return AgentSwitchRequest(reason: reason)
    }
}

/// GET /v1/agents/{agent_id}/logs?limit= (API §9.3).
struct AgentLogsQuery: QueryRequest {
    var limit: Int

    init(_ query: inout QueryReader) throws {
        limit = query.int("limit", default: 100, range: 1...500)
        guard query.issues.isEmpty else { throw query.failure }
    }
}

/// GET /v1/agents/{agent_id}/metrics?period= (API §9.4).
struct AgentMetricsQuery: QueryRequest {
    var period: MetricsPeriod

    init(_ query: inout QueryReader) throws {
        let text = query.string("period") ?? "day"
        guard let period = MetricsPeriod(rawValue: text) else {
            throw APIError.invalid(
                FieldIssue(
                    type: "enum", loc: ["query", "period"], msg: "Input should be 'hour', 'day' or 'week'",
                    input: .string(text)))
        }
        guard query.issues.isEmpty else { throw query.failure }
        self.period = period
    }
}
