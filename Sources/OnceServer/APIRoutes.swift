import HTTPTypes
import Hummingbird
import OnceCore
import OnceStore

/// Handlers for API v1. Each reads and validates its input completely before it calls the
/// store, so a bad request changes nothing (ARCHITECTURE invariant 7).
struct APIRoutes: Sendable {
    let store: any OnceStorage
    let configuration: ServerConfiguration

    static let paths: [(HTTPRequest.Method, String)] = [
        (.post, "/v1/check-lock"),
        (.post, "/v1/ai/lease"), (.post, "/v1/ai/extend"), (.post, "/v1/ai/complete"),
        (.post, "/v1/ai/fail"), (.post, "/v1/ai/cancel"),
        (.get, "/v1/ai/status"), (.get, "/v1/ai/result"),
        (.post, "/v1/events"), (.get, "/v1/events"),
        (.get, "/v1/runs"), (.get, "/v1/runs/:run_id"),
        (.get, "/v1/usage"), (.get, "/v1/usage/all"), (.get, "/v1/metrics"),
        (.get, "/v1/me"), (.post, "/v1/me/notifications"),
    ]

    func register(on group: RouterGroup<OnceRequestContext>) {
        group.post("check-lock", use: checkLock)
        group.post("ai/lease", use: lease)
        group.post("ai/extend", use: extend)
        group.post("ai/complete", use: complete)
        group.post("ai/fail", use: fail)
        group.post("ai/cancel", use: cancel)
        group.get("ai/status", use: status)
        group.get("ai/result", use: result)
        group.post("events", use: postEvent)
        group.get("events", use: events)
        group.get("runs", use: runs)
        group.get("runs/:run_id", use: runTimeline)
        group.get("usage", use: usage)
        group.get("usage/all", use: usageAll)
        group.get("metrics", use: metrics)
        group.get("me", use: me)
        group.post("me/notifications", use: updateNotifications)
    }

    func body(_ request: Request) async throws -> BodyReader {
        try await BodyReader.read(request, limit: configuration.bodyLimit)
    }

    func effectiveTTL(_ requested: Int64?, _ account: AccountContext) -> Int {
        Rules.effectiveTTL(requested: requested, plan: account.plan, minTTL: configuration.minTTL)
    }

    // MARK: check-lock (API §4)

    @Sendable func checkLock(_ request: Request, context: OnceRequestContext) async throws -> Response {
        let account = try context.requireAccount()
        var body = try await body(request)
        let key = body.key()
        let requested = body.ttl()
        let metadata = body.metadata()
        try body.finish()
        guard let key else { throw APIError.internal() }
        let effective = effectiveTTL(requested, account)
        let reply = try await store.checkLock(
            account: account, key: key, ttl: effective, metadata: metadata, requestId: context.requestId)
        switch reply {
        case .locked(let ttl):
            return JSONResponse.make(
                .object([
                    "success": .bool(true), "status": .string("locked"), "key": .string(key), "ttl": .int(Int64(ttl)),
                    "first_seen_at": .null,
                ]), headers: [.onceOnlyStatus: "locked"])
        case .duplicate(let ttl, let firstSeenAt):
            if configuration.duplicateStatusCode == 409 { throw APIError.duplicateBlocked(firstSeenAt: firstSeenAt) }
            return JSONResponse.make(
                .object([
                    "success": .bool(false), "status": .string("duplicate"), "key": .string(key),
                    "ttl": .int(Int64(ttl)), "first_seen_at": .string(firstSeenAt.iso8601),
                ]), headers: [.onceOnlyStatus: "duplicate"])
        case .overLimit(let usage, let limit):
            throw APIError.paymentRequired(plan: account.plan, usage: usage, limit: limit)
        }
    }
}
