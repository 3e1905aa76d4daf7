import HTTPTypes
import OnceCore
import OnceServer
import Testing

/// Bad input gets a 4xx with a JSON body naming the problem, never a 5xx, and writes nothing.
@Suite("API: bad input")
struct BadInputAPITests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let path: String
        let body: [UInt8]?
        let status: Int
        let location: String?

        init(_ name: String, _ path: String, _ json: String?, _ status: Int, _ location: String?) {
            self.name = name
            self.path = path
            self.body = json.map { Array($0.utf8) }
            self.status = status
            self.location = location
        }

        init(_ name: String, _ path: String, bytes: [UInt8], _ status: Int, _ location: String?) {
            self.name = name
            self.path = path
            self.body = bytes
            self.status = status
            self.location = location
        }

        var description: String { name }
    }

    static let cases: [Case] = [
        Case("empty body", "/v1/check-lock", nil, 422, "body"),
        Case("not JSON", "/v1/check-lock", "key=abc", 422, "body"),
        Case("JSON array", "/v1/ai/lease", "[1,2]", 422, "body"),
        Case("JSON string", "/v1/ai/lease", #""key""#, 422, "body"),
        Case("truncated JSON", "/v1/ai/lease", #"{"key": "a""#, 422, "body"),
        Case(
            "invalid UTF-8 in key", "/v1/check-lock",
            bytes: Array(#"{"key":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8), 422, "body"),
        Case("lone surrogate", "/v1/check-lock", #"{"key":"\ud800"}"#, 422, "body"),
        Case("missing key", "/v1/check-lock", #"{"ttl":10}"#, 422, "body.key"),
        Case("key null", "/v1/ai/lease", #"{"key":null}"#, 422, "body.key"),
        Case("key number", "/v1/ai/lease", #"{"key":12}"#, 422, "body.key"),
        Case("key empty", "/v1/check-lock", #"{"key":""}"#, 422, "body.key"),
        Case("key 257 chars", "/v1/check-lock", #"{"key":"\#(String(repeating: "k", count: 257))"}"#, 422, "body.key"),
        Case("key with NUL", "/v1/check-lock", #"{"key":"a\u0000b"}"#, 422, "body.key"),
        Case("ttl negative", "/v1/check-lock", #"{"key":"a","ttl":-1}"#, 422, "body.ttl"),
        Case("ttl zero", "/v1/ai/lease", #"{"key":"a","ttl":0}"#, 422, "body.ttl"),
        Case("ttl string", "/v1/ai/lease", #"{"key":"a","ttl":"10"}"#, 422, "body.ttl"),
        Case("ttl fractional", "/v1/ai/lease", #"{"key":"a","ttl":10.5}"#, 422, "body.ttl"),
        Case("ttl 1e309", "/v1/ai/lease", #"{"key":"a","ttl":1e309}"#, 422, nil),
        Case("ttl 2^64", "/v1/ai/lease", #"{"key":"a","ttl":18446744073709551616}"#, 422, "body.ttl"),
        Case("ttl bool", "/v1/check-lock", #"{"key":"a","ttl":true}"#, 422, "body.ttl"),
        Case("metadata not object", "/v1/check-lock", #"{"key":"a","metadata":[1]}"#, 422, "body.metadata"),
        Case(
            "metadata over 2048 bytes", "/v1/ai/lease",
            #"{"key":"a","metadata":{"x":"\#(String(repeating: "m", count: 2100))"}}"#, 422, "body.metadata"),
        Case("extend without lease_id", "/v1/ai/extend", #"{"key":"a"}"#, 422, "body.lease_id"),
        Case("fail without error_code", "/v1/ai/fail", #"{"key":"a","lease_id":"l"}"#, 422, "body.error_code"),
        Case(
            "result over 256 KiB", "/v1/ai/complete",
            #"{"key":"a","lease_id":"l","result":{"x":"\#(String(repeating: "r", count: 270_000))"}}"#, 422,
            "body.result"),
        Case("event without run_id", "/v1/events", #"{"type":"note"}"#, 422, "body.run_id"),
        Case("event blank run_id", "/v1/events", #"{"run_id":"   ","type":"note"}"#, 422, "body.run_id"),
        Case("event run_id with NUL", "/v1/events", #"{"run_id":"a\u0000b","type":"note"}"#, 422, "body.run_id"),
        Case("event type with NUL", "/v1/events", #"{"run_id":"r","type":"a\u0000"}"#, 422, "body.type"),
        Case(
            "fail error_code with NUL", "/v1/ai/fail", #"{"key":"a","lease_id":"l","error_code":"\u0000"}"#, 422,
            "body.error_code"),
        Case("event data not object", "/v1/events", #"{"run_id":"r","type":"note","data":"x"}"#, 422, "body.data"),
        Case("notifications empty", "/v1/me/notifications", "{}", 422, "body"),
        Case(
            "notifications not bool", "/v1/me/notifications", #"{"email_notifications_enabled":"yes"}"#, 422,
            "body.email_notifications_enabled"),
        Case("deep nesting", "/v1/check-lock", String(repeating: "[", count: 100_000), 422, "body"),
        Case(
            "body over the limit", "/v1/check-lock", #"{"key":"\#(String(repeating: "x", count: 1_100_000))"}"#, 413,
            nil),
    ]

    @Test("rejected with a 4xx naming the field, nothing stored", arguments: cases)
    func rejected(_ c: Case) async throws {
        try await APIHarness().run { api in
            let r = try await api.request(.post, c.path, bytes: c.body ?? [])
            #expect(Int(r.status.code) == c.status, "\(r.status) \(r.text.prefix(300))")
            #expect(r.json["detail"] != nil, "body: \(r.text.prefix(300))")
            if let location = c.location {
                #expect(r.issueLocations.contains(location), "locations \(r.issueLocations)")
            }
            // Nothing reached storage: the feed of the account is still empty.
            #expect(try await api.get("/v1/events").json == .array([]))
        }
    }

    @Test("query parameters: missing key, bad ints, out of range, bad kind and days")
    func badQueries() async throws {
        try await APIHarness().run { api in
            let expectations: [(String, String)] = [
                ("/v1/ai/status", "query.key"),
                ("/v1/ai/result?key=", "query.key"),
                ("/v1/ai/status?key=%FF", "query.key"),
                ("/v1/events?limit=0", "query.limit"),
                ("/v1/events?limit=abc", "query.limit"),
                ("/v1/events?offset=-1", "query.offset"),
                ("/v1/runs?limit=501", "query.limit"),
                ("/v1/runs/r?limit=2001", "query.limit"),
                ("/v1/usage?kind=other", "query.kind"),
                ("/v1/runs?q=a%00", "query.q"),
                ("/v1/runs/a%00b", "path.run_id"),
                ("/v1/policies/a%00b", "path.agent_id"),
                ("/v1/agents/a%00b/logs", "path.agent_id"),
                ("/v1/metrics?from_day=2026-02-30&to_day=2026-03-01", "query.from_day"),
                ("/v1/metrics?from_day=2026-03-02&to_day=2026-03-01", "query.from_day"),
                ("/v1/metrics?from_day=2020-01-01&to_day=2026-03-01", "query.to_day"),
            ]
            for (uri, location) in expectations {
                let r = try await api.get(uri)
                #expect(r.status == .unprocessableContent, "\(uri): \(r.status) \(r.text)")
                #expect(r.issueLocations.contains(location), "\(uri): \(r.issueLocations)")
            }
        }
    }

    @Test("unknown paths 404, wrong methods 405, both JSON")
    func routing() async throws {
        try await APIHarness().run { api in
            let missing = try await api.get("/v1/nothing-here")
            #expect(missing.status == .notFound)
            #expect(missing.json == .object(["detail": .string("Not Found")]))
            let wrong = try await api.request(.delete, "/v1/ai/lease")
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow] == "POST")
            #expect(try await api.request(.put, "/v1/runs/abc").status == .methodNotAllowed)
            #expect(try await api.get("/healthz").json == .object(["status": .string("ok"), "store": .string("up")]))
        }
    }
}
