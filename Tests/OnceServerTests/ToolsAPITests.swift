import Foundation
import GRDB
import HTTPTypes
import OnceCore
import OnceStore
import OnceStoreTestSupport
import Testing

@testable import OnceServer

/// The tools registry over HTTP (API §10), on the store `ONCE_TEST_STORE` names.
@Suite("Tools API")
struct ToolsAPITests {
    static let secret = "whsec-TOPSECRET-4242"

    static func configuration(allowPrivate: Bool = true) -> ServerConfiguration {
        var c = APIHarness.unlimited
        c.toolSecrets = .random()
        c.allowPrivateToolURLs = allowPrivate
        c.toolRetryBaseDelay = .milliseconds(20)
        return c
    }

    static func toolJSON(
        _ name: String, url: String = "https://tools.example/send", scope: String? = nil, secret: String? = secret,
        extra: String = ""
    ) -> String {
        var fields = [#""name":"\#(name)""#, #""url":"\#(url)""#]
        if let scope { fields.append(#""scope_id":"\#(scope)""#) }
        if let secret { fields.append(#""auth":{"type":"hmac_sha256","secret":"\#(secret)"}"#) }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test("create, update keeping the secret, get, list by scope and all, toggle, delete")
    func lifecycle() async throws {
        let h = try await APIHarness(configuration: Self.configuration())
        try await h.run { c in
            let created = try await c.post(
                "/v1/tools", Self.toolJSON("send_email", extra: #""description":"Sends mail","timeout_ms":5000"#))
            #expect(created.status == .ok)
            #expect(created.json["name"] == .string("send_email"))
            #expect(created.json["scope_id"] == .string("global"))
            #expect(created.json["timeout_ms"] == .int(5000))
            #expect(created.json["max_retries"] == .int(2))
            #expect(created.json["enabled"] == .bool(true))
            #expect(created.json["has_secret"] == .bool(true))
            #expect(created.json["secret_mask"] == .string("***242"))
            let secretId = try #require(created.json["secret_id"]?.stringValue)
            #expect(secretId.wholeMatch(of: /sec_[0-9a-f]{8}/) != nil)
            #expect(!created.text.contains(Self.secret))

            let updated = try await c.post(
                "/v1/tools", Self.toolJSON("send_email", url: "https://tools.example/v2", secret: nil))
            #expect(updated.status == .ok)
            #expect(updated.json["url"] == .string("https://tools.example/v2"))
            #expect(updated.json["secret_id"] == .string(secretId))
            #expect(updated.json["created_at"] == created.json["created_at"])

            _ = try await c.post("/v1/tools", Self.toolJSON("send_email", scope: "agent:bot"))
            let global = try await c.get("/v1/tools")
            #expect(global.json == .array([updated.json]))
            let all = try await c.get("/v1/tools?scope_id=all")
            guard case .array(let items) = all.json else {
                Issue.record("not an array: \(all.text)")
                return
            }
            #expect(items.compactMap { $0["scope_id"]?.stringValue } == ["agent:bot", "global"])
            #expect(
                try await c.get("/v1/tools/send_email?scope_id=agent%3Abot").json["scope_id"] == .string("agent:bot"))
            let missing = try await c.get("/v1/tools/nope")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")

            let off = try await c.post("/v1/tools/send_email/toggle", #"{"enabled":false}"#)
            #expect(off.json["enabled"] == .bool(false))
            #expect(off.json["name"] == .string("send_email"))
            #expect(try await c.get("/v1/tools/send_email").json["enabled"] == .bool(false))
            #expect(try await c.post("/v1/tools/nope/toggle", #"{"enabled":true}"#).status == .notFound)

            let deleted = try await c.request(.delete, "/v1/tools/send_email?scope_id=global")
            #expect(
                deleted.json
                    == .object(["ok": .bool(true), "deleted": .string("send_email"), "scope_id": .string("global")]))
            #expect(try await c.request(.delete, "/v1/tools/send_email").status == .notFound)
            #expect(try await c.get("/v1/tools").json == .array([]))
        }
    }

    @Test("bad tool bodies: name pattern, scope, scheme, short secret, ranges, a new tool without secret")
    func validation() async throws {
        let h = try await APIHarness(configuration: Self.configuration())
        try await h.run { c in
            let bad = try await c.post(
                "/v1/tools",
                #"{"name":"bad name!","scope_id":"team","url":"ftp://x","auth":{"type":"basic","secret":"tiny1"},"timeout_ms":10,"max_retries":11}"#
            )
            #expect(bad.status == .unprocessableContent)
            #expect(
                Set(bad.issueLocations)
                    == [
                        "body.name", "body.scope_id", "body.url", "body.auth.type", "body.auth.secret",
                        "body.timeout_ms",
                        "body.max_retries",
                    ])
            #expect(!bad.text.contains("tiny1"))
            let noSecret = try await c.post("/v1/tools", Self.toolJSON("t", secret: nil))
            #expect(noSecret.status == .unprocessableContent)
            #expect(noSecret.issueLocations == ["body.auth.secret"])
            #expect(try await c.get("/v1/tools?scope_id=nope").status == .unprocessableContent)
            #expect(try await c.get("/v1/tools/x?scope_id=all").status == .unprocessableContent)
        }
    }

    @Test("loopback and private tool URLs are refused unless the server allows them")
    func privateURLs() async throws {
        let h = try await APIHarness(configuration: Self.configuration(allowPrivate: false))
        try await h.run { c in
            for url in [
                "http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x",
                "http://192.168.0.1/",
            ] {
                let r = try await c.post("/v1/tools", Self.toolJSON("t", url: url))
                #expect(r.status == .unprocessableContent, "\(url)")
                #expect(r.text.contains("allow-private-tool-urls"), "\(url)")
            }
            #expect(try await c.post("/v1/tools", Self.toolJSON("t", url: "https://api.example.com/x")).status == .ok)
        }
    }

    @Test("the plan's tool count: free allows 1, then 403 plan_limit; updating it is fine")
    func planLimit() async throws {
        let h = try await APIHarness(configuration: Self.configuration(), plan: .free)
        try await h.run { c in
            #expect(try await c.post("/v1/tools", Self.toolJSON("one")).status == .ok)
            let second = try await c.post("/v1/tools", Self.toolJSON("two"))
            #expect(second.status == .forbidden)
            #expect(second.errorCode == "plan_limit")
            #expect(second.json["detail"]?["message"] == .string("FREE plan limit: max 1 tools"))
            #expect(try await c.post("/v1/tools", Self.toolJSON("one", secret: nil)).status == .ok)
        }
    }

    @Test("a tool secret is in no response and not in the database in clear text")
    func secretNeverShown() async throws {
        let store: any OnceStorage
        var files: [String] = []
        if TestStores.kind == .sqlite {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-tools-\(UUID().uuidString)")
            let path = dir.appendingPathComponent("once.sqlite").path
            store = try SQLiteStore(path: path)
            files = [path, path + "-wal"]
        } else {
            store = try await TestStores.make()
        }
        let h = try await APIHarness(configuration: Self.configuration(), store: store)
        try await h.run { c in
            var texts: [String] = []
            texts.append(try await c.post("/v1/tools", Self.toolJSON("send_email")).text)
            texts.append(try await c.post("/v1/tools", Self.toolJSON("send_email", scope: "agent:bot")).text)
            texts.append(try await c.get("/v1/tools?scope_id=all").text)
            texts.append(try await c.get("/v1/tools/send_email").text)
            texts.append(try await c.post("/v1/tools/send_email/toggle", #"{"enabled":true}"#).text)
            texts.append(try await c.request(.delete, "/v1/tools/send_email?scope_id=agent%3Abot").text)
            for text in texts { #expect(!text.contains(Self.secret)) }
            #expect(texts.dropLast().allSatisfy { $0.contains("***242") })  // all but the delete
        }
        let needle = Array(Self.secret.utf8)
        guard case .valid(let account) = try await store.authenticate(apiKey: h.key) else {
            Issue.record("the key does not authenticate")
            return
        }
        let stored = try await store.tools(accountId: account.accountId, scopeId: nil)
        #expect(stored.count == 1)
        for tool in stored {
            let sealed = try #require(tool.secret?.sealed)
            #expect(sealed.count == Self.secret.utf8.count + 28)  // nonce 12 + tag 16
            #expect(!contains(sealed, needle))
        }
        #expect(try await store.anySealedSecret() != nil)
        for file in files where FileManager.default.fileExists(atPath: file) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(!bytes.isEmpty)
            #expect(!contains(bytes, needle), "\(file) holds the secret in clear")
            #expect(!contains(bytes, Array("TOPSECRET".utf8)), "\(file) holds part of the secret")
        }
    }

    @Test("the signature of API §10.3's test vector; the test backend's HMAC agrees")
    func signatureVector() {
        let body = Array(#"{"tool":"send_email","agent_id":"support_bot","args":{"to":"user@example.com"}}"#.utf8)
        let expected = "91f57d9417c57970a24104a54bf81bfcf6982fc59241f2b6fbcdd36d5d063e3e"
        #expect(ToolDispatcher.signature(secret: "supersecret", body: body) == expected)
        #expect(ToolBackend.hmacHex(key: Array("supersecret".utf8), message: body) == expected)
    }

    @Test("the secret key: 64 hex characters; a box sealed under one key does not open under another")
    func secretKey() throws {
        let a = ToolSecretBox.random()
        let sealed = try a.seal("hello-secret")
        #expect(try a.open(sealed) == "hello-secret")
        #expect((try? ToolSecretBox.random().open(sealed)) == nil)
        #expect(throws: ToolSecretBox.KeyError.self) { try ToolSecretBox(hexText: "abcd") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("tool-secret.key").path
        let first = try ToolSecretBox.loadOrCreate(path: path)
        #expect(first.created)
        let again = try ToolSecretBox.loadOrCreate(path: path)
        #expect(!again.created)
        #expect(try again.box.open(try first.box.seal("x-y-z-1234")) == "x-y-z-1234")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
        if Array(haystack[i..<(i + needle.count)]) == needle { return true }
    }
    return false
}
