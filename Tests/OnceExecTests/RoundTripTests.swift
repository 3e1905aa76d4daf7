import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// With `--server`, a run makes one round trip before the child starts (the lease) and one
/// after it exits (the finish, carrying the end of the timeline as `run_events`), counted by
/// the real once-server's own `/metrics`.
@Suite("once-exec round trips to once-server", .timeLimit(.minutes(3)))
struct RoundTripTests {
    /// once-server's `once_http_requests_total` by method and route, without the test's own
    /// reads (`/metrics`, and the timelines it reads with `GET /v1/runs…`, which a run never makes).
    static func requests(_ server: ServerProcess) async throws -> [String: Int] {
        let url = try #require(URL(string: server.baseURL + "/metrics"))
        let (data, _) = try await URLSession.shared.data(from: url)
        var counts: [String: Int] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("once_http_requests_total{") {
            guard let route = label("route", in: line), let method = label("method", in: line),
                let value = line.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            if route == "/metrics" || (method == "GET" && route.hasPrefix("/v1/runs")) { continue }
            counts["\(method) \(route)", default: 0] += Int(value)
        }
        return counts
    }

    /// The value of `name="…"` in a Prometheus sample line.
    static func label(_ name: String, in line: Substring) -> String? {
        guard let start = line.range(of: name + "=\"") else { return nil }
        let rest = line[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    static func delta(_ after: [String: Int], _ before: [String: Int]) -> [String: Int] {
        after.reduce(into: [:]) { d, entry in
            let n = entry.value - (before[entry.key] ?? 0)
            if n != 0 { d[entry.key] = n }
        }
    }

    /// The counts once they have reached `total` requests more than `before` (a request is
    /// counted as its answer is sent, so just after the client has it).
    static func settled(_ server: ServerProcess, _ before: [String: Int], total: Int) async throws -> [String: Int] {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let d = delta(try await requests(server), before)
            if d.values.reduce(0, +) >= total || ContinuousClock.now > deadline { return d }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func timeline(_ b: Backend, _ runId: String) async throws -> [String] {
        let server = try #require(b.server)
        let t = try await server.send("GET", "/v1/runs/\(runId)")
        return (t.body["events"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
    }

    @Test("once-exec --server KEY -- /bin/true: the lease, then one finish that carries the timeline's end")
    func shortRun() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let before = try await Self.requests(server)
        let r = try await b.run(["--json", "--server", server.baseURL, "short", "--", "/bin/true"])
        #expect(r.code == 0, "\(r.stderr)")
        let made = try await Self.settled(server, before, total: 2)
        #expect(made == ["POST /v1/ai/lease": 1, "POST /v1/ai/complete": 1], "\(made)")

        let runId = try #require(r.summary["run_id"]?.stringValue)
        let types = try await Self.timeline(b, runId)
        #expect(types == ["run_started", "child_spawned", "child_exited", "run_record", "run_finished"], "\(types)")
        // History still reads the record written with the finish.
        let runs = try await b.run(["runs", "--json"])
        #expect(runs.code == 0, "\(runs.stderr)")
        let listed = (runs.json["runs"]?.arrayValue ?? []).map {
            "\($0["key"]?.stringValue ?? "?")=\($0["outcome"]?.stringValue ?? "?")"
        }
        #expect(listed == ["short=completed"], "\(runs.stdout)")
        let history = try await b.run(["history", "--key", "short", "--json"])
        #expect(history.json["runs"]?.arrayValue?.count == 1, "\(history.stdout)")
        // A failing command: the same one round trip, to fail.
        let before2 = try await Self.requests(server)
        #expect(try await b.run(["--server", server.baseURL, "failing", "--", "/bin/false"]).code == 1)
        let failed = try await Self.settled(server, before2, total: 2)
        #expect(failed == ["POST /v1/ai/lease": 1, "POST /v1/ai/fail": 1], "\(failed)")
    }

    @Test("a run whose record the server refuses as an event (a 20 KiB command line) still finishes")
    func oversizedRecord() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let long = "true # " + String(repeating: "x", count: 20 * 1024)
        let r = try await b.run(["--json", "--server", server.baseURL, "long-argv", "--", "sh", "-c", long])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary["outcome"] == .string("ran"))
        // The finish was sent again without its run_events (422) and recorded.
        #expect(try await b.status("long-argv")["status"] == .string("completed"))
        let runId = try #require(r.summary["run_id"]?.stringValue)
        let types = try await Self.timeline(b, runId)
        #expect(types.contains("child_exited"), "posted after the finish: \(types)")
    }

    @Test("a longer child has its events posted while it runs, and still one round trip after it exits")
    func longRun() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let runIdFile = b.sandbox.path("run-id")
        let go = b.sandbox.path("go")
        let w = try b.start([
            "--json", "--server", server.baseURL, "long", "--",
            "sh", "-c", "echo $ONCE_RUN_ID > \(runIdFile); while [ ! -e \(go) ]; do sleep 0.05; done",
        ])
        var runId = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            runId = (b.sandbox.read("run-id") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if !runId.isEmpty, try await Self.timeline(b, runId).contains("child_spawned") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await Self.timeline(b, runId) == ["run_started", "child_spawned"], "posted while the child runs")
        // Every request so far is answered and counted: the lease and the posted child_spawned.
        let running = try await Self.settled(server, [:], total: 2)
        #expect(running == ["POST /v1/ai/lease": 1, "POST /v1/events": 1], "\(running)")
        FileManager.default.createFile(atPath: go, contents: nil)
        let r = try await w.wait(timeout: 30)
        #expect(r.code == 0, "\(r.stderr)")
        let after = try await Self.settled(server, running, total: 1)
        #expect(after == ["POST /v1/ai/complete": 1], "\(after)")
        #expect(
            try await Self.timeline(b, runId) == [
                "run_started", "child_spawned", "child_exited", "run_record", "run_finished",
            ])
    }
}
