import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import OnceCore
import OnceStore

/// The server-rendered dashboard under `/ui` (same port as the API). Pages need a session
/// cookie from the login form; each shows only the logged-in key's account.
struct Dashboard: Sendable {
    let store: any OnceStorage
    let templates: MustacheLibrary
    /// Signs session cookies: the configured secret, or one made at start-up (sessions then end
    /// when the process does, and replicas do not share them).
    let secret: [UInt8]
    let sessionLifetime: Int

    init(store: any OnceStorage, configuration: ServerConfiguration) throws {
        self.store = store
        self.templates = try DashboardTemplates.library()
        self.secret = configuration.sessionSecret ?? SessionToken.randomSecret()
        self.sessionLifetime = configuration.sessionLifetime
    }

    /// Every `/ui` path with its method, for the server's 405 table.
    static let paths: [(HTTPRequest.Method, String)] = [
        (.get, "/ui"), (.get, "/ui/login"), (.post, "/ui/login"), (.post, "/ui/logout"),
        (.get, "/ui/static/dashboard.css"), (.get, "/ui/runs"), (.get, "/ui/runs/:run_id"), (.get, "/ui/leases"),
        (.get, "/ui/keys"), (.get, "/ui/events"), (.get, "/ui/agents"), (.get, "/ui/agents/:agent_id"),
        (.get, "/ui/tools"), (.get, "/ui/usage"),
    ]

    func register(on router: Router<OnceRequestContext>) {
        let ui = router.group("ui").add(middleware: DashboardGate(dashboard: self))
        ui.get("static/dashboard.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardStyle.css)))
        }
        ui.get("login") { request, _ in
            // Already logged in: straight to the overview.
            if try await self.account(for: request) != nil { return Self.redirect("/ui") }
            return self.html("login", [:])
        }
        ui.post("login") { request, context in try await self.login(request, context: context) }
        ui.post("logout") { request, context in try await self.logout(request, context: context) }
        ui.get { request, context in try await self.overview(try Page(self, request, context, "Overview")) }
        ui.get("runs") { request, context in try await self.runs(try Page(self, request, context, "Runs")) }
        ui.get("runs/:run_id") { request, context in
            try await self.run(try Page(self, request, context, "Run"), runId: try Self.pathSegment(context, "run_id"))
        }
        ui.get("leases") { request, context in try await self.leases(try Page(self, request, context, "Leases")) }
        ui.get("keys") { request, context in try await self.keys(try Page(self, request, context, "Keys")) }
        ui.get("events") { request, context in try await self.events(try Page(self, request, context, "Events")) }
        ui.get("agents") { request, context in try await self.agents(try Page(self, request, context, "Agents")) }
        ui.get("agents/:agent_id") { request, context in
            try await self.agent(
                try Page(self, request, context, "Agent"), agentId: try Self.pathSegment(context, "agent_id"))
        }
        ui.get("tools") { request, context in try await self.tools(try Page(self, request, context, "Tools")) }
        ui.get("usage") { request, context in try await self.usage(try Page(self, request, context, "Usage")) }
    }

    /// A path parameter percent-decoded as the API decodes its own (`/v1/runs/{run_id}`).
    static func pathSegment(_ context: OnceRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let value = QueryReader.decodePathSegment(raw) else {
            throw DashboardError.badRequest("The \(name) in the address is not valid UTF-8.")
        }
        return value
    }

    // MARK: Sessions

    /// The session's account when the request carries a valid cookie of a key that is still
    /// active; nil otherwise.
    func account(for request: Request) async throws -> (AccountContext, SessionToken)? {
        guard let token = session(request) else { return nil }
        guard let key = try await store.listKeys().first(where: { $0.id == token.keyId }), key.revokedAt == nil
        else { return nil }
        return (AccountContext(accountId: key.accountId, keyId: key.id, plan: key.plan, keyPreview: key.preview), token)
    }

    func session(_ request: Request) -> SessionToken? {
        guard let cookie = request.cookies[SessionToken.cookieName] else { return nil }
        return SessionToken.decode(cookie.value, secret: secret, now: Int64(Date().timeIntervalSince1970))
    }

    private func login(_ request: Request, context: OnceRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        let form = FormFields(Substring(String(buffer: body)))
        guard let key = form["api_key"] else {
            return html("login", ["message": "Enter an API key."], status: .unprocessableContent)
        }
        switch try await store.authenticate(apiKey: key) {
        case .valid(let account):
            let token = SessionToken(
                keyId: account.keyId, expiresAt: Int64(Date().timeIntervalSince1970) + Int64(sessionLifetime),
                csrf: APIKeyMaterial.randomHex(32))
            var response = Self.redirect("/ui")
            response.setCookie(
                Cookie(
                    name: SessionToken.cookieName, value: token.encoded(secret: secret), maxAge: sessionLifetime,
                    path: "/ui", secure: Self.isHTTPS(request), httpOnly: true, sameSite: .strict))
            context.logger.info("dashboard login", metadata: ["key_id": "\(account.keyId)"])
            return response
        case .revoked:
            return html("login", ["message": "This API key is revoked."], status: .forbidden)
        case .unknown:
            return html("login", ["message": "Unknown API key."], status: .unauthorized)
        }
    }

    private func logout(_ request: Request, context: OnceRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        let form = FormFields(Substring(String(buffer: body)))
        // Without the session's own CSRF token a cross-site form could log the user out.
        guard let token = session(request), let csrf = form["csrf"],
            HMACSHA256.equal(Array(csrf.utf8), Array(token.csrf.utf8))
        else { throw DashboardError.badRequest("The form has expired; reload the page and try again.") }
        var response = Self.redirect("/ui/login")
        response.setCookie(
            Cookie(
                name: SessionToken.cookieName, value: "", maxAge: 0, path: "/ui", secure: Self.isHTTPS(request),
                httpOnly: true, sameSite: .strict))
        return response
    }

    /// Behind a TLS-terminating proxy the cookie gets `Secure`; on plain HTTP (127.0.0.1) a
    /// browser would drop a Secure cookie, so it is left off there.
    static func isHTTPS(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    // MARK: Rendering

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    func html(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let text = templates.render(values, withTemplate: template) ?? "template \(template) missing"
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A page request that passed the gate: its account, session and query, and the layout's values.
struct Page {
    let account: AccountContext
    let session: SessionToken
    let query: FormFields
    let title: String
    let path: String

    init(_ dashboard: Dashboard, _ request: Request, _ context: OnceRequestContext, _ title: String) throws {
        // The gate sets the account; a page without one is a wiring mistake, answered safely.
        guard let account = context.account, let session = dashboard.session(request) else {
            throw DashboardError.loginRequired
        }
        self.account = account
        self.session = session
        self.query = FormFields(query: request)
        self.title = title
        self.path = request.uri.path
    }

    static let nav: [(label: String, href: String)] = [
        ("Overview", "/ui"), ("Runs", "/ui/runs"), ("Leases", "/ui/leases"), ("Keys", "/ui/keys"),
        ("Events", "/ui/events"), ("Agents", "/ui/agents"), ("Tools", "/ui/tools"), ("Usage", "/ui/usage"),
    ]

    /// The layout's values merged with the page's; nil and empty values are dropped so that
    /// `{{#name}}` sections skip them (swift-mustache renders a section for any present value).
    func values(_ page: [String: Any?], title: String? = nil, refresh: Bool = false) -> [String: Any] {
        var values: [String: Any] = [
            "title": title ?? self.title, "csrf": session.csrf, "accountId": String(account.accountId),
            "who": "account \(account.accountId) · \(account.keyPreview) · \(account.plan.rawValue)",
            "refresh": refresh,
            "nav": Self.nav.map { item -> [String: Any] in
                let current = item.href == "/ui" ? path == "/ui" || path == "/ui/" : path.hasPrefix(item.href)
                return ["label": item.label, "href": item.href, "current": current]
            },
        ]
        for (name, value) in page { if let value = compact(value) { values[name] = value } }
        return values
    }
}

/// Drops nil and empty strings (recursively in dictionaries and arrays of dictionaries).
func compact(_ value: Any?) -> Any? {
    guard let value else { return nil }
    if let boxed = value as? any OptionalBox, boxed.isNone { return nil }
    switch value {
    case let string as String: return string.isEmpty ? nil : string
    case let dictionary as [String: Any?]:
        var out: [String: Any] = [:]
        for (k, v) in dictionary { if let v = compact(v) { out[k] = v } }
        return out
    case let array as [[String: Any?]]:
        return array.map { item in compact(item) ?? [String: Any]() }
    default: return value
    }
}

/// An `Optional` seen through `Any`, to tell a boxed `nil` from a value.
protocol OptionalBox { var isNone: Bool { get } }
extension Optional: OptionalBox {
    var isNone: Bool { self == nil }
}

enum DashboardError: Error {
    case loginRequired
    case notFound(String)
    case badRequest(String)
}
