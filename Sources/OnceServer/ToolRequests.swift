import Hummingbird
import OnceCore

/// POST /v1/tools (API §10.1): the whole tool; an update replaces every field but the secret,
/// which it keeps when `auth.secret` is omitted.
struct ToolCreateRequest: BodyRequest {
    var name: String
    var scopeId: String
    var url: String
    /// The new secret in clear, sealed by the handler before anything reaches the store.
    var secret: String?
    var timeoutMs: Int
    var maxRetries: Int
    var enabled: Bool
    var description: String?

    init(_ body: inout BodyReader) throws {
        let name = body.string("name", required: true)
        if let name, !ToolRules.isValidName(name) {
            body.add(
                FieldIssue(
                    type: "string_pattern_mismatch", loc: ["body", "name"],
                    msg: "String should match pattern '^[a-zA-Z0-9_.:-]+$' and have 1 to 128 characters",
                    input: .string(name)))
        }
        let scopeId = body.string("scope_id") ?? "global"
        if !ToolRules.isValidScope(scopeId) {
            body.add(
                FieldIssue(
                    type: "value_error", loc: ["body", "scope_id"],
                    msg: "Value error, scope_id must be 'global' or 'agent:<agent_id>'", input: .string(scopeId)))
        }
        let url = body.string("url", required: true, maxLength: 2048)
        if let url, let problem = ToolURLRule.problem(url, allowPrivate: true) {
            body.add(
                FieldIssue(
                    type: "url_parsing", loc: ["body", "url"], msg: "Value error, " + problem, input: .string(url)))
        }
        var secret: String?
        if let auth = body.object("auth")?.objectValue {
            let type = auth["type"]
            if type?.stringValue != "hmac_sha256" {
                body.add(
                    FieldIssue(
                        type: "literal_error", loc: ["body", "auth", "type"], msg: "Input should be 'hmac_sha256'",
                        input: type ?? .null))
            }
            switch auth["secret"] {
            case nil, .null?:
                break
            case .string(let s)? where s.unicodeScalars.count >= ToolRules.minSecretLength && s.utf8.count <= 4096:
                secret = s
            case let other?:
                // The input is left out of the issue: it may be the secret.
                body.add(
                    FieldIssue(
                        type: "string_too_short", loc: ["body", "auth", "secret"],
                        msg: "String should have at least \(ToolRules.minSecretLength) characters"
                            + (other.stringValue == nil ? " (and be a string)" : "")))
            }
        }
        let timeout = body.int("timeout_ms").map(Int.init) ?? ToolRules.defaultTimeoutMs
        if !ToolRules.timeoutRange.contains(timeout) {
            body.add(
                FieldIssue(
                    type: "value_error", loc: ["body", "timeout_ms"],
                    msg: "Value error, timeout_ms must be 250 to 120000", input: .int(Int64(timeout))))
        }
        let retries = body.int("max_retries").map(Int.init) ?? ToolRules.defaultMaxRetries
        if !ToolRules.retriesRange.contains(retries) {
            body.add(
                FieldIssue(
                    type: "value_error", loc: ["body", "max_retries"], msg: "Value error, max_retries must be 0 to 10",
                    input: .int(Int64(retries))))
        }
        enabled = body.bool("enabled") ?? true
        description = body.string("description", maxLength: ToolRules.maxDescription)
        guard body.issues.isEmpty, let name, let url else { throw body.failure }
        self.name = name
        self.scopeId = scopeId
        self.url = url
        self.secret = secret
        self.timeoutMs = timeout
        self.maxRetries = retries
    }
}

/// POST /v1/tools/{name}/toggle: `{"enabled": bool}`.
struct ToolToggleRequest: BodyRequest {
    var enabled: Bool

    init(_ body: inout BodyReader) throws {
        let enabled = body.bool("enabled")
        if enabled == nil, body.issues.isEmpty {
            body.add(.missing(["body", "enabled"], input: .object(body.members)))
        }
        guard body.issues.isEmpty, let enabled else { throw body.failure }
        self.enabled = enabled
    }
}

/// `?scope_id=` of the tool calls: `global` by default; `all` only where `allowAll`.
struct ToolScopeQuery: QueryRequest {
    /// nil for `all`.
    var scopeId: String?

    init(_ query: inout QueryReader) throws { try self.init(&query, allowAll: false) }

    init(_ query: inout QueryReader, allowAll: Bool) throws {
        let scope = query.string("scope_id") ?? "global"
        guard (allowAll && scope == "all") || ToolRules.isValidScope(scope) else {
            throw APIError.invalid(
                FieldIssue(
                    type: "value_error", loc: ["query", "scope_id"],
                    msg: "Value error, scope_id must be 'global', 'agent:<agent_id>'" + (allowAll ? " or 'all'" : ""),
                    input: .string(scope)))
        }
        guard query.issues.isEmpty else { throw query.failure }
        scopeId = scope == "all" ? nil : scope
    }
}

struct ToolListQuery: QueryRequest {
    var scope: ToolScopeQuery
    init(_ query: inout QueryReader) throws { scope = try ToolScopeQuery(&query, allowAll: true) }
}
