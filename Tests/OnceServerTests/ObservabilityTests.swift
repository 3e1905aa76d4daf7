import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OnceCore
import OnceServer
import OnceStore
import Testing

@Suite("Metrics and request logs")
struct ObservabilityTests {
    /// The value of one sample line (`name{labels} value`), nil when absent.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("/metrics counts requests, check-lock outcomes and lease transitions as they happen")
    func metricsMove() async throws {
        let h = try await APIHarness()
        try await h.run { client in
            let before = try await client.request(.get, "/metrics", auth: .some(nil))
            #expect(before.status == .ok)
            #expect(before.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(Self.sample(before.text, #"once_check_locks_total{outcome="locked"}"#) == 0)
            #expect(Self.sample(before.text, "once_leases_held") == 0)
            #expect(before.text.contains("# TYPE once_store_commit_duration_seconds histogram"))
            #expect(before.text.contains(#"once_build_info{version=""#))

            _ = try await client.post("/v1/check-lock", #"{"key":"m1","ttl":60}"#)
            _ = try await client.post("/v1/check-lock", #"{"key":"m1","ttl":60}"#)
            let acquired = try await client.post("/v1/ai/lease", #"{"key":"l1","ttl":60,"metadata":{"status":"x"}}"#)
            let leaseId = try #require(acquired.json["lease_id"]?.stringValue)
            _ = try await client.post("/v1/ai/lease", #"{"key":"l1","ttl":60}"#)  // polling
            let held = try await client.request(.get, "/metrics", auth: .some(nil))
            #expect(Self.sample(held.text, "once_leases_held") == 1)
            _ = try await client.post("/v1/ai/complete", #"{"key":"l1","lease_id":"\#(leaseId)"}"#)
            _ = try await client.post("/v1/ai/complete", #"{"key":"l1","lease_id":"lease_someone_else"}"#)
            _ = try await client.request(.get, "/v1/me", auth: "Bearer wrong")

            let after = try await client.request(.get, "/metrics", auth: .some(nil)).text
            #expect(Self.sample(after, #"once_check_locks_total{outcome="locked"}"#) == 1)
            #expect(Self.sample(after, #"once_check_locks_total{outcome="duplicate"}"#) == 1)
            #expect(Self.sample(after, #"once_lease_transitions_total{transition="acquired"}"#) == 1)
            #expect(Self.sample(after, #"once_lease_transitions_total{transition="polling"}"#) == 1)
            #expect(Self.sample(after, #"once_lease_transitions_total{transition="completed"}"#) == 1)
            #expect(Self.sample(after, #"once_lease_transitions_total{transition="rejected"}"#) == 1)
            #expect(Self.sample(after, "once_leases_held") == 0)
            #expect(
                Self.sample(after, #"once_http_requests_total{route="/v1/check-lock",method="POST",status="200"}"#) == 2
            )
            #expect(Self.sample(after, #"once_http_requests_total{route="/v1/me",method="GET",status="403"}"#) == 1)
            #expect(Self.sample(after, #"once_http_request_duration_seconds_count{route="/v1/check-lock"}"#) == 2)
            // The store reported its commits: one at least for each of the new check-lock, the
            // acquire and the complete, each carrying one write (the requests came one by one).
            let commits = try #require(Self.sample(after, "once_store_commit_duration_seconds_count"))
            #expect(commits >= 3)
            #expect(Self.sample(after, "once_store_commit_batch_size_count") == commits)
            #expect(Self.sample(after, "once_store_commit_batch_size_sum") == commits)
        }
    }

    @Test("--metrics-token guards /metrics")
    func metricsToken() async throws {
        var configuration = APIHarness.unlimited
        configuration.metricsToken = "s3cret-token"
        let h = try await APIHarness(configuration: configuration)
        try await h.run { client in
            #expect(try await client.request(.get, "/metrics", auth: .some(nil)).status == .unauthorized)
            #expect(try await client.request(.get, "/metrics", auth: "Bearer nope").status == .unauthorized)
            let ok = try await client.request(.get, "/metrics", auth: "Bearer s3cret-token")
            #expect(ok.status == .ok)
            #expect(ok.text.contains("once_http_requests_total"))
        }
    }

    @Test("rate-limited requests are counted")
    func rateLimited() async throws {
        let h = try await APIHarness(configuration: ServerConfiguration(rateLimit: 0.01, rateBurst: 1))
        try await h.run { client in
            _ = try await client.get("/v1/me")
            #expect(try await client.get("/v1/me").status == .tooManyRequests)
            let text = try await client.request(.get, "/metrics", auth: .some(nil)).text
            #expect(Self.sample(text, "once_rate_limited_requests_total") == 1)
        }
    }

    @Test("one info line per request: method, route, status, duration, request id")
    func requestLog() async throws {
        let logs = CapturedLogs()
        let h = try await APIHarness(logger: logs.logger)
        try await h.run { client in
            _ = try await client.request(.get, "/v1/runs/abc", headers: [HTTPField.Name("X-Request-Id")!: "req-123"])
            _ = try await client.request(.get, "/nowhere")
        }
        let lines = logs.records.withLock { $0 }.filter { $0.message == "request" }
        #expect(lines.count == 2)
        let run = try #require(lines.first { $0.metadata["route"] == "/v1/runs/{run_id}" })
        #expect(run.metadata["method"] == "GET")
        #expect(run.metadata["status"] == "200")
        #expect(run.metadata["request_id"] == "req-123")
        #expect(Double(run.metadata["duration_ms"] ?? "") != nil)
        let missing = try #require(lines.first { $0.metadata["status"] == "404" })
        #expect(missing.metadata["route"] == "unmatched")
        #expect(missing.metadata["request_id"]?.count == 32)
    }

    @Test("log lines as text and as JSON")
    func logFormats() throws {
        let now = Date(timeIntervalSince1970: 1_767_225_600.5)
        let metadata: Logger.Metadata = ["route": "/v1/me", "status": "200", "error": "a \"b\""]
        let text = ServerLogHandler.line(format: .text, level: .info, message: "request", metadata: metadata, now: now)
        #expect(text == #"2026-01-01T00:00:00.500Z info request error="a \"b\"" route=/v1/me status=200"#)
        let json = ServerLogHandler.line(format: .json, level: .info, message: "request", metadata: metadata, now: now)
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(parsed["level"]?.stringValue == "info")
        #expect(parsed["route"]?.stringValue == "/v1/me")
        #expect(parsed["ts"]?.stringValue == "2026-01-01T00:00:00.500Z")
        #expect(!json.contains("\n"))
    }

    @Test("the lease answer's top-level status is found, not one inside metadata")
    func statusField() {
        let body = #"{"key":"k","metadata":{"status":"inner"},"status":"acquired","ttl":60}"#
        #expect(RequestObserver.statusField(ByteBuffer(string: body)) == "acquired")
        #expect(
            RequestObserver.statusField(ByteBuffer(string: #"{"a":"\"status\":\"x\"","status":"polling"}"#))
                == "polling")
        #expect(RequestObserver.statusField(ByteBuffer(string: "{}")) == nil)
    }
}
