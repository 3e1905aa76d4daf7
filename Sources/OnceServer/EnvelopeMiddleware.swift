import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OnceCore
import OnceStore

/// The outermost middleware: gives every request an id (the caller's `X-Request-Id` when it
/// sent a sane one), turns every error into the JSON envelope, and stamps the id on every
/// response, errors included.
struct EnvelopeMiddleware: RouterMiddleware {
    typealias Context = OnceRequestContext
    let routes: RouteTable
    let bodyLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.requestId = Self.requestId(from: request)
        // Every line logged for this request, here or in a handler, names it.
        context.logger[metadataKey: "request_id"] = "\(context.requestId)"
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response()
        } catch let error as HTTPError {
            response = map(error, request: request).response()
        } catch StoreError.keyRevoked {
            // Revoked while the request ran (AuthMiddleware answers this itself on /v1).
            response = APIError.keyDisabled.response()
        } catch let error as StoreError where error.isRetryable {
            context.logger.warning(
                "store unavailable",
                metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = APIError.unavailable(retryAfter: 1).response()
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            response = APIError.internal(requestId: context.requestId).response()
        }
        response.headers[.requestId] = context.requestId
        return response
    }

    private func map(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            let allowed = routes.methods(for: request.uri.path)
            return allowed.isEmpty ? .routeNotFound : .methodNotAllowed(allowed: allowed)
        case .contentTooLarge:
            return .bodyTooLarge(limit: bodyLimit)
        case .methodNotAllowed:
            return .methodNotAllowed(allowed: routes.methods(for: request.uri.path))
        default:
            if error.status.code >= 400 && error.status.code < 500 {
                return .validation([
                    .init(type: "bad_request", loc: ["request"], msg: error.body ?? error.status.reasonPhrase)
                ])
            }
            return .internal()
        }
    }

    static func requestId(from request: Request) -> String {
        if let given = request.headers[.requestId], !given.isEmpty, given.utf8.count <= 128,
            given.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        {
            return given
        }
        return APIKeyMaterial.randomHex(32)
    }
}

/// `Authorization: Bearer <key>` on every `/v1` route (API §1.1).
/// Then each key's token bucket (``RateLimiter``): a key over its rate gets 429 with
/// `Retry-After`, counted in the day's `rate_limited` metric.
///
/// On the routes in `storeChecked` (their store call re-reads the key in the same database
/// visit as its record, see ``KeyCache``) a key authenticated before is taken from the cache
/// without a database visit; a revocation found by the store answers 403 and drops it.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = OnceRequestContext
    let store: any OnceStorage
    let limiter: RateLimiter?
    let cache: KeyCache
    /// `POST` paths (as `request.uri.path`) whose handlers re-check the key in the store.
    let storeChecked: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization] else { throw APIError.missingToken }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.missingToken }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { throw APIError.missingToken }
        let checkedLater = request.method == .post && storeChecked.contains(request.uri.path)
        let authentication: Authentication
        let cached = checkedLater ? cache.account(for: token) : nil
        if let cached {
            authentication = .valid(cached)
        } else {
            authentication = try await store.authenticate(apiKey: token)
            if case .valid(let account) = authentication { cache.keep(account, for: token) }
        }
        do {
            return try await admit(authentication, token: token, cached: cached != nil, request, context, next)
        } catch StoreError.keyRevoked {
            cache.forget(token)
            throw APIError.keyDisabled
        }
    }

    private func admit(
        _ authentication: Authentication, token: String, cached: Bool, _ request: Request, _ context: Context,
        _ next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        switch authentication {
        case .valid(let account):
            if let wait = limiter?.take(account.keyId) {
                // A 429 is answered before the store is called: a cached key is checked here
                // instead, so a revoked key hears 403, never 429.
                if cached, try await store.authenticate(apiKey: token) != .valid(account) {
                    throw StoreError.keyRevoked
                }
                var effects = Effects()
                effects.counters.rateLimited = 1
                do {
                    try await store.record(accountId: account.accountId, effects)
                } catch {
                    // The 429 stands; a lost count must not turn it into a 503.
                    context.logger.warning("rate_limited metric not recorded", metadata: ["error": "\(error)"])
                }
                throw APIError.rateLimited(retryAfter: wait)
            }
            var context = context
            context.account = account
            return try await next(request, context)
        case .revoked:
            throw APIError.keyDisabled
        case .unknown:
            throw APIError.invalidKey
        }
    }
}

/// The routes the server knows, so that a known path with the wrong method answers 405
/// instead of 404.
struct RouteTable: Sendable {
    private var entries: [(segments: [String], method: HTTPRequest.Method)] = []

    mutating func add(_ method: HTTPRequest.Method, _ path: String) {
        entries.append((path.split(separator: "/").map(String.init), method))
    }

    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/").map(String.init)
        return entries.filter { entry in
            entry.segments.count == segments.count
                && zip(entry.segments, segments).allSatisfy { pattern, actual in
                    pattern.hasPrefix(":") || pattern == actual
                }
        }.map(\.method)
    }
}
