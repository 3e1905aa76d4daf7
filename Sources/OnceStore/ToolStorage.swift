import OnceCore

/// The tools registry and the counts a governed call is decided on (API §7, §10), as a store
/// offers them. Part of ``OnceStorage``; kept apart so the governance primitives read together.
public protocol ToolStorage: Sendable {
    /// Creates or updates the tool (`scopeId`, `name`) atomically: a new tool is refused when the
    /// account already has `maxTools` tools, or when it brings no secret; an update without a
    /// secret keeps the stored one and its `created_at`.
    func upsertTool(accountId: Int64, _ tool: ToolUpsert, maxTools: Int) async throws -> ToolWrite
    /// The account's tools in `scopeId`, or in every scope when nil; by scope, then name.
    func tools(accountId: Int64, scopeId: String?) async throws -> [ToolRecord]
    func tool(accountId: Int64, scopeId: String, name: String) async throws -> ToolRecord?
    /// Returns the updated tool, nil when there is none.
    func setToolEnabled(accountId: Int64, scopeId: String, name: String, enabled: Bool) async throws -> ToolRecord?
    /// Whether a tool was deleted.
    func deleteTool(accountId: Int64, scopeId: String, name: String) async throws -> Bool
    /// One sealed secret of any account, to check at start-up that the server's key opens them.
    func anySealedSecret() async throws -> SealedSecret?
    /// What steps 4–7 of API §7 need, counted from the agent's executed calls since the given
    /// bucket starts; the dedup result is that of the newest executed call with `argsHash` to
    /// `tool` after `dedupSince` that stored a result.
    func governanceWindow(
        accountId: Int64, agentId: String, tool: String, argsHash: String, hourStart: Timestamp, dayStart: Timestamp,
        dedupSince: Timestamp
    ) async throws -> GovernanceWindow
}
