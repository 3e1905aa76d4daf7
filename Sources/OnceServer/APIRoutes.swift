import HTTPTypes
import Hummingbird
import OnceCore
import OnceStore

/// Handlers for API v1. Each parses its input into a request value completely before it calls
/// the store, so a bad request changes nothing (ARCHITECTURE invariant 7).
struct APIRoutes: Sendable {
    let store: any OnceStorage
    let configuration: ServerConfiguration

    typealias Handler = @Sendable (Request, AuthenticatedContext) async throws -> Response

    /// One `/v1` route: the router and the 405 table are both built from ``routes``, so they
    /// cannot disagree.
    struct Route: Sendable {
        let method: HTTPRequest.Method
        /// Relative to `/v1`, with `:name` for a path parameter.
        let path: String
        let handler: Handler
        /// Whether the handler's store call re-checks the API key in its own database visit
        /// (a transition primitive): then ``AuthMiddleware`` may take the key from its cache.
        var checksKeyInStore = false
    }

    var routes: [Route] {
        [
            Route(method: .post, path: "check-lock", handler: checkLock, checksKeyInStore: true),
            Route(method: .post, path: "ai/lease", handler: lease, checksKeyInStore: true),
            Route(method: .post, path: "ai/extend", handler: extend, checksKeyInStore: true),
            Route(method: .post, path: "ai/complete", handler: complete, checksKeyInStore: true),
            Route(method: .post, path: "ai/fail", handler: fail, checksKeyInStore: true),
            Route(method: .post, path: "ai/cancel", handler: cancel, checksKeyInStore: true),
            Route(method: .get, path: "ai/status", handler: status),
            Route(method: .get, path: "ai/result", handler: result),
            Route(method: .post, path: "events", handler: postEvent),
            Route(method: .get, path: "events", handler: events),
            Route(method: .get, path: "runs", handler: runs),
            Route(method: .get, path: "runs/:run_id", handler: runTimeline),
            Route(method: .get, path: "usage", handler: usage),
            Route(method: .get, path: "usage/all", handler: usageAll),
            Route(method: .get, path: "metrics", handler: metrics),
            Route(method: .get, path: "me", handler: me),
            Route(method: .post, path: "me/notifications", handler: updateNotifications),
        ] + governanceRoutes
    }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        for route in routes { group.on(RouterPath(route.path), method: route.method, use: route.handler) }
    }

    /// Reads the body and parses it into `R`; 413 or 422 when it cannot.
    func decode<R: BodyRequest>(_ type: R.Type, _ request: Request) async throws -> R {
        var body = try await BodyReader.read(request, limit: configuration.bodyLimit)
        return try R(&body)
    }

    func effectiveTTL(_ requested: Int64?, _ account: AccountContext) -> Int {
        Rules.effectiveTTL(requested: requested, plan: account.plan, minTTL: configuration.minTTL)
    }

    // MARK: check-lock (API §4)

    @Sendable func checkLock(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        let input = try await decode(KeyedRequest.self, request)
        let key = input.key
        let effective = effectiveTTL(input.ttl, account)
        let reply = try await store.checkLock(
            account: account, key: key, ttl: effective, metadata: input.metadata, requestId: context.requestId)
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
