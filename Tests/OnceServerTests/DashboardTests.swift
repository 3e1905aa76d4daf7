import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OnceCore
import OnceServer
import OnceStore
import Testing

/// A browser's view of the dashboard: form posts and a cookie jar of one cookie.
struct DashboardBrowser: Sendable {
    let client: any TestClientProtocol
    var cookie: String?

    struct Page: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let html: String
        var location: String? { headers[.location] }
    }

    func get(_ uri: String) async throws -> Page {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await client.execute(uri: uri, method: .get, headers: headers, body: nil) { r in
            Page(status: r.status, headers: r.headers, html: String(buffer: r.body))
        }
    }

    func post(_ uri: String, form: [(String, String)]) async throws -> Page {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = cookie }
        let body = form.map { "\(FormFields.encode($0.0))=\(FormFields.encode($0.1))" }.joined(separator: "&")
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
            r in
            Page(status: r.status, headers: r.headers, html: String(buffer: r.body))
        }
    }

    /// Logs in through the form and keeps the session cookie.
    mutating func login(_ key: String) async throws -> Page {
        let page = try await post("/ui/login", form: [("api_key", key)])
        if let setCookie = page.headers[.setCookie] {
            cookie = String(setCookie.prefix { $0 != ";" })
        }
        return page
    }

    /// The value of the hidden CSRF field on a page.
    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }
}

extension APIHarness {
    func dashboard(_ body: @escaping @Sendable (DashboardBrowser) async throws -> Void) async throws {
        try await app.test(.router) { client in try await body(DashboardBrowser(client: client)) }
    }
}

@Suite("Dashboard")
struct DashboardTests {
    @Test("no template writes a value unescaped ({{{…}}} or {{&…}})")
    func templatesEscape() throws {
        for (name, text) in DashboardTemplates.all {
            #expect(!text.contains("{{{"), "template \(name) uses {{{")
            #expect(!text.contains("{{&"), "template \(name) uses {{&")
        }
        // And the check itself would notice one.
        #expect("<p>{{{stored}}}</p>".contains("{{{"))
        _ = try DashboardTemplates.library()
    }

    @Test("pages without a session go to the login form; the form has one field, api_key")
    func loginRequired() async throws {
        let h = try await APIHarness()
        try await h.dashboard { browser in
            for path in [
                "/ui", "/ui/runs", "/ui/runs/x", "/ui/leases", "/ui/keys", "/ui/events", "/ui/agents",
                "/ui/agents/a", "/ui/tools", "/ui/usage",
            ] {
                let page = try await browser.get(path)
                #expect(page.status == .seeOther, "\(path)")
                #expect(page.location == "/ui/login", "\(path)")
            }
            let form = try await browser.get("/ui/login")
            #expect(form.status == .ok)
            #expect(form.html.contains("name=\"api_key\""))
            #expect(form.html.components(separatedBy: "<input").count == 2)
            #expect(
                form.headers[.contentSecurityPolicy]
                    == "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
            )
            let css = try await browser.get("/ui/static/dashboard.css")
            #expect(css.status == .ok)
            #expect(css.headers[.contentType]?.hasPrefix("text/css") == true)
        }
    }

    @Test("login: a wrong key gets the form again; a good one an HttpOnly SameSite=Strict signed cookie")
    func login() async throws {
        let h = try await APIHarness()
        let key = h.key
        try await h.dashboard { browser in
            var browser = browser
            let wrong = try await browser.login("ok_live_wrong")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.html.contains("Unknown API key"))
            #expect(browser.cookie == nil)

            let page = try await browser.login(key)
            #expect(page.status == .seeOther)
            #expect(page.location == "/ui")
            let setCookie = try #require(page.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(setCookie.contains("Max-Age=43200"))
            #expect(setCookie.contains("Path=/ui"))
            #expect(!setCookie.contains(key))
            let overview = try await browser.get("/ui")
            #expect(overview.status == .ok)
            #expect(overview.html.contains("Leases held now"))
            #expect(!overview.html.contains(key))

            // A cookie with one character changed is no session.
            var forged = browser
            let value = try #require(browser.cookie)
            forged.cookie = String(value.dropLast()) + (value.last == "0" ? "1" : "0")
            #expect(try await forged.get("/ui").location == "/ui/login")
        }
    }

    @Test("logout needs the session's CSRF token, then ends the session")
    func logout() async throws {
        let h = try await APIHarness()
        let key = h.key
        try await h.dashboard { browser in
            var browser = browser
            _ = try await browser.login(key)
            let overview = try await browser.get("/ui")
            let csrf = try #require(DashboardBrowser.csrf(in: overview.html))
            #expect(try await browser.post("/ui/logout", form: [("csrf", "nope")]).status == .badRequest)
            let out = try await browser.post("/ui/logout", form: [("csrf", csrf)])
            #expect(out.status == .seeOther)
            #expect(out.location == "/ui/login")
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test("a revoked key's session ends at once")
    func revokedKey() async throws {
        let h = try await APIHarness()
        let key = h.key
        let store = h.store
        try await h.dashboard { browser in
            var browser = browser
            _ = try await browser.login(key)
            #expect(try await browser.get("/ui/runs").status == .ok)
            _ = try await store.revokeKey(key)
            #expect(try await browser.get("/ui/runs").location == "/ui/login")
            #expect(try await browser.login(key).status == .forbidden)
        }
    }

    @Test("runs: filters as GET parameters, keyset pages, only this account's runs")
    func runs() async throws {
        let h = try await APIHarness()
        let key = h.key
        let account = try await h.account()
        let other = try await h.otherAccount()
        let base = h.store.now()
        for i in 0..<55 {
            _ = try await h.store.appendRunEvent(
                account: account,
                RunEvent(
                    runId: "ok-\(i)", type: "run_finished", ts: base.adding(seconds: -1000 + i), status: "completed",
                    data: .object(["key": .string("nightly")])))
        }
        _ = try await h.store.appendRunEvent(
            account: account, RunEvent(runId: "broken", type: "run_finished", ts: base, status: "failed"))
        _ = try await h.store.appendRunEvent(
            account: other, RunEvent(runId: "someone-elses", type: "run_finished", ts: base, status: "failed"))
        try await h.dashboard { browser in
            var browser = browser
            _ = try await browser.login(key)
            let failed = try await browser.get("/ui/runs?status=failed")
            #expect(failed.html.contains("/ui/runs/broken"))
            #expect(!failed.html.contains("ok-1"))
            #expect(!failed.html.contains("someone-elses"))
            #expect(failed.html.contains("<option value=\"failed\" selected>"))

            let nightly = try await browser.get("/ui/runs?key=nightly")
            #expect(!nightly.html.contains("/ui/runs/broken\""))
            #expect(nightly.html.contains("/ui/runs/ok-54\""))
            #expect(!nightly.html.contains("/ui/runs/ok-4\""))  // the 51st newest: on the next page
            let next = try #require(Self.link(in: nightly.html, text: "Older runs"))
            #expect(next.contains("key=nightly"))
            let second = try await browser.get(next)
            #expect(second.html.contains("/ui/runs/ok-4\""))
            #expect(second.html.contains("/ui/runs/ok-0\""))
            #expect(!second.html.contains("/ui/runs/ok-5\""))
            #expect(Self.link(in: second.html, text: "Older runs") == nil)

            let overview = try await browser.get("/ui")
            #expect(overview.html.contains("/ui/runs/broken"))
            #expect(!overview.html.contains("someone-elses"))
            #expect(try await browser.get("/ui/runs/someone-elses").status == .notFound)
        }
    }

    @Test("run page: timeline, error rows marked, data as escaped pretty JSON, once-exec's output tail")
    func runPage() async throws {
        let h = try await APIHarness()
        let key = h.key
        let account = try await h.account()
        let base = h.store.now()
        let record: JSONValue = .object([
            "tool": .string("once-exec"), "key": .string("nightly"), "run_id": .string("r1"), "host": .string("web-1"),
            "pid": .int(42), "argv": .array([.string("sh"), .string("-c"), .string("echo <b>boom</b>; exit 3")]),
            "outcome": .string("failed"), "exit_code": .int(3), "error_code": .string("exit_3"),
            "stdout_tail": .string("<script>alert(1)</script>\n"), "stderr_tail": .null, "duration_ms": .int(1500),
        ])
        for e in [
            RunEvent(runId: "r1", type: "run_started", ts: base, status: "started"),
            RunEvent(runId: "r1", type: "child_exited", ts: base.adding(seconds: 1), message: "exit_3"),
            RunEvent(
                runId: "r1", type: "run_finished", ts: base.adding(seconds: 2), status: "failed", message: "exit_3",
                durationMs: 1500),
            RunEvent(runId: "r1", type: "run_record", ts: base.adding(seconds: 3), status: "failed", data: record),
        ] {
            _ = try await h.store.appendRunEvent(account: account, e)
        }
        try await h.dashboard { browser in
            var browser = browser
            _ = try await browser.login(key)
            let page = try await browser.get("/ui/runs/r1")
            #expect(page.status == .ok)
            let html = page.html
            #expect(!html.contains("<script>"))
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(html.contains("Output tail (stdout)"))
            #expect(html.contains("web-1"))
            #expect(html.contains("exit code 3"))
            #expect(html.contains("sh -c &#39;echo &lt;b&gt;boom&lt;/b&gt;; exit 3&#39;"))
            // Pretty JSON: one member per line, indented, escaped.
            #expect(html.contains("\n  &quot;host&quot;: &quot;web-1&quot;,\n"))
            #expect(html.components(separatedBy: "<tr class=\"error\">").count - 1 == 2)  // run_finished, run_record
            #expect(html.contains("1.5 s"))
        }
    }

    @Test("leases, keys, events (type filter), agents, tools and usage show the account's data")
    func otherPages() async throws {
        let h = try await APIHarness()
        let key = h.key
        let account = try await h.account()
        _ = try await h.store.lease(
            account: account, key: "backup",
            command: .acquire(
                .init(
                    ttl: 300, metadata: .object(["run_id": .string("run-b")]), newLeaseId: "lease_b1",
                    retryFailed: false)),
            requestId: nil)
        _ = try await h.store.appendRunEvent(
            account: account,
            RunEvent(
                runId: "run-b", type: "child_spawned", ts: h.store.now(), message: "pid 7: tar czf /tmp/x.tgz /srv"))
        _ = try await h.store.checkLock(account: account, key: "email-42", ttl: 600, metadata: nil, requestId: nil)
        _ = try await h.store.checkLock(account: account, key: "email-42", ttl: 600, metadata: nil, requestId: nil)
        _ = try await h.store.transactPolicy(accountId: account.accountId, agentId: "<bot>") { _, _ in
            .stored(["blocked_tools": .array([.string("rm_rf")]), "max_calls_per_tool": .object(["search": .int(5)])])
        }
        // A registered tool with a sealed secret: its fields show, the secret's id and mask do not.
        let secret = SealedSecret(sealed: [1, 2, 3], id: "sec_0badc0de", mask: SealedSecret.mask(of: "whsec_xyz"))
        _ = try await h.store.upsertTool(
            accountId: account.accountId,
            ToolUpsert(
                scopeId: "global", name: "search", url: "https://tools.example/search?<q>", secret: secret,
                timeoutMs: 1500, maxRetries: 2, enabled: false, description: "web <search>"),
            maxTools: 10)
        try await h.dashboard { browser in
            var browser = browser
            _ = try await browser.login(key)
            let leases = try await browser.get("/ui/leases")
            #expect(leases.html.contains("backup"))
            #expect(leases.html.contains("tar czf /tmp/x.tgz /srv"))
            #expect(leases.html.contains("/ui/runs/run-b"))
            #expect(leases.html.contains("http-equiv=\"refresh\""))

            let keys = try await browser.get("/ui/keys")
            #expect(keys.html.contains("email-42"))
            #expect(keys.html.contains(">locked<"))

            let all = try await browser.get("/ui/events")
            #expect(all.html.contains(">duplicate<") && all.html.contains(">ai_acquired<"))
            let duplicates = try await browser.get("/ui/events?type=duplicate")
            #expect(duplicates.html.contains("badge bad\">duplicate<"))
            #expect(!duplicates.html.contains("badge good\">ai_acquired<"))
            #expect(duplicates.html.contains("value=\"duplicate\" checked"))

            let agents = try await browser.get("/ui/agents")
            #expect(agents.html.contains("&lt;bot&gt;"))
            #expect(agents.html.contains("/ui/agents/%3Cbot%3E"))
            let agent = try await browser.get("/ui/agents/%3Cbot%3E")
            #expect(agent.status == .ok)
            #expect(agent.html.contains("&quot;blocked_tools&quot;"))
            #expect(agent.html.contains(">enabled<"))
            let tools = try await browser.get("/ui/tools")
            #expect(tools.html.contains("rm_rf"))
            #expect(tools.html.contains("not registered: named by a policy only"))
            #expect(tools.html.contains("&lt;bot&gt;: 5/day"))
            #expect(tools.html.contains("https://tools.example/search?&lt;q&gt;"))
            #expect(tools.html.contains("web &lt;search&gt;"))
            #expect(tools.html.contains("1500 ms, 2 retries"))
            #expect(tools.html.contains(">disabled<"))
            #expect(tools.html.contains(">sealed<"))
            #expect(!tools.html.contains("sec_0badc0de") && !tools.html.contains("***xyz"))

            let usage = try await browser.get("/ui/usage")
            #expect(usage.html.contains("<svg"))
            #expect(usage.html.components(separatedBy: "<rect").count - 1 == 14 * 3)
            #expect(usage.html.contains("checks_total"))
            let month = try await browser.get("/ui/usage?days=30")
            #expect(month.html.components(separatedBy: "<rect").count - 1 == 30 * 3)

            let overview = try await browser.get("/ui")
            #expect(overview.html.contains("backup"))
        }
    }

    @Test("the dashboard can be turned off")
    func off() async throws {
        var configuration = APIHarness.unlimited
        configuration.dashboard = false
        let h = try await APIHarness(configuration: configuration)
        try await h.dashboard { browser in
            let page = try await browser.get("/ui/login")
            #expect(page.status == .notFound)
        }
    }

    static func link(in html: String, text: String) -> String? {
        guard let textRange = html.range(of: ">\(text)") else { return nil }
        let before = html[..<textRange.lowerBound]
        guard let hrefRange = before.range(of: "href=\"", options: .backwards) else { return nil }
        return String(before[hrefRange.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(
            of: "&amp;", with: "&")
    }
}

extension APIHarness {
    /// The harness key's account.
    func account() async throws -> AccountContext {
        guard case .valid(let account) = try await store.authenticate(apiKey: key) else {
            throw DashboardTestError.noAccount
        }
        return account
    }

    func otherAccount() async throws -> AccountContext {
        let created = try await store.createKey(plan: .agency, name: "other", accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            throw DashboardTestError.noAccount
        }
        return account
    }
}

enum DashboardTestError: Error { case noAccount }
