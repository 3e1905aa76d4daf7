import Foundation
import OnceCore
import OnceOnly
import Synchronization

/// Leases on a once-server shared by many hosts, through the Swift SDK's transport.
package struct RemoteBackend: LeaseBackend {
    let client: OnceOnlyClient
    /// The end of the run staged for the finish (``stageFinish(runId:events:record:)``), sent
    /// as its `run_events`, and whether the server acknowledged writing them.
    private let staged = Staged()

    final class Staged: Sendable {
        struct State {
            var events: [RunEvent] = []
            var written = false
            /// A finish carrying them was sent and its answer lost (a timeout, a dropped
            /// connection): it may have been written.
            var unanswered = false
        }
        private let state = Mutex(State())
        func withLock<T>(_ body: (inout State) -> T) -> T { state.withLock { body(&$0) } }
    }

    package var name: String { "server \(client.baseURL)" }

    /// - Parameter timeout: per request; renewals must get an answer well inside the lease.
    package init(baseURL: String, apiKey: String, timeout: Double = 5) throws {
        client = try OnceOnlyClient(
            apiKey: apiKey, baseURL: baseURL, timeout: timeout, failOpen: false, maxRetries429: 0)
    }

    /// Why `url` cannot be a server URL (nil when it can): it needs http:// or https:// and a
    /// host. A typo must be a usage error, not an outage that `--if-unreachable run` runs through.
    package static func problem(with url: String) -> String? {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased() else {
            return "not a URL (write it as http://HOST:PORT)"
        }
        guard scheme == "http" || scheme == "https" else {
            return "unknown scheme \(scheme):// (use http:// or https://)"
        }
        guard let host = c.host, !host.isEmpty else { return "no host in it (write it as http://HOST:PORT)" }
        if c.query != nil || c.fragment != nil { return "a server URL has no ?query or #fragment" }
        return nil
    }

    /// An answer that is not the API's (a wrong path answers 404 `Not Found`, a proxy an HTML
    /// page): a refusal naming the URL and the status, never "held".
    private func notAnAnswer(_ path: String, _ status: Int, _ json: JSONObject) -> BackendError {
        var detail = ""
        if let text = json["detail"]?.stringValue ?? json["message"]?.stringValue { detail = " (\(text))" }
        return .refused(
            status: status,
            message: "\(client.baseURL)\(path) answered HTTP \(status)\(detail), not a once-server reply; "
                + "check the server URL (it is the part before /v1)")
    }

    /// A 404 that is the API's own "no lease for this key", not a 404 for an unknown path.
    private static func isKeyNotFound(_ status: Int, _ json: JSONObject) -> Bool {
        status == 404 && json["error"]?.stringValue == "not_found"
    }

    /// POSTs or GETs, mapping "no answer" and 5xx to ``BackendError/unreachable(_:)``; a 409 or
    /// 404 comes back as a value because for leases they are answers, not failures.
    private func call(_ method: String, _ path: String, query: [String: String] = [:], body: JSONObject? = nil)
        async throws(BackendError) -> (status: Int, json: JSONObject)
    {
        do {
            return try await client.request(method: method, path: path, query: query, body: body)
        } catch let error as OnceOnlyError {
            if error.isServiceUnreachable { throw .unreachable(error.message) }
            guard let status = error.statusCode else { throw .unreachable(error.message) }
            if status >= 500 { throw .unreachable("HTTP \(status): \(error.message)") }
            if status == 409 || status == 404 { return (status, error.detail ?? [:]) }
            throw .refused(status: status, message: error.message)
        } catch {
            throw .unreachable("\(error)")
        }
    }

    package func acquire(key: String, ttl: Int, runId: String, retryFailed: Bool, holder: LeaseHolder)
        async throws(BackendError)
        -> AcquireResult
    {
        var body: JSONObject = ["key": .string(key), "ttl": .int(ttl), "metadata": holder.metadata(runId: runId)]
        if retryFailed { body["retry_failed"] = .bool(true) }
        let (code, json) = try await call("POST", "/ai/lease", body: body)
        guard code == 200 else { throw notAnAnswer("/ai/lease", code, json) }
        switch json["status"]?.stringValue {
        case "acquired":
            guard let leaseId = json["lease_id"]?.stringValue, let version = json["version"]?.intValue else {
                throw .refused(status: 200, message: "acquired answer without lease_id/version")
            }
            return .acquired(
                Lease(key: key, leaseId: leaseId, version: Int64(version), ttl: json["ttl"]?.intValue ?? ttl))
        case "completed", "failed":
            // The lease answer has no result; the status read brings the stored record.
            if let status = try await status(key: key) { return .finished(status) }
            return .finished(Self.status(json))
        case "polling", "in_progress":
            return .held(ttlLeft: json["ttl_left"]?.intValue)
        default:
            throw notAnAnswer("/ai/lease", code, json)
        }
    }

    package func extend(key: String, leaseId: String, ttl: Int) async throws(BackendError) -> RenewResult {
        let (status, json) = try await call(
            "POST", "/ai/extend", body: ["key": .string(key), "lease_id": .string(leaseId), "ttl": .int(ttl)])
        if status == 200 { return .renewed }
        guard status == 409 || Self.isKeyNotFound(status, json) else { throw notAnAnswer("/ai/extend", status, json) }
        return .rejected(Self.describe(json))
    }

    package func complete(key: String, leaseId: String, record: JSONValue) async throws(BackendError) -> FinishResult {
        try await finish(
            "/ai/complete", ["key": .string(key), "lease_id": .string(leaseId), "result": record])
    }

    package func fail(key: String, leaseId: String, errorCode: String, record: JSONValue) async throws(BackendError)
        -> FinishResult
    {
        // `result` on /ai/fail is once-server's extension; other servers ignore it.
        try await finish(
            "/ai/fail",
            [
                "key": .string(key), "lease_id": .string(leaseId), "error_code": .string(errorCode),
                "result": record,
            ])
    }

    package func cancel(key: String, leaseId: String, reason: String) async throws(BackendError) -> FinishResult {
        try await finish("/ai/cancel", ["key": .string(key), "lease_id": .string(leaseId), "reason": .string(reason)])
    }

    /// Sends the staged end of the run with the finish (`run_events`, once-server's extension),
    /// so the run makes one round trip after the child exits. A server that writes them says so
    /// (`run_events_recorded`); any other (the official service, an older once-server) ignores
    /// the field, and ``flushStagedEvents()`` then posts them one by one as before.
    private func finish(_ path: String, _ body: JSONObject) async throws(BackendError) -> FinishResult {
        let attached = staged.withLock { $0.written ? [] : $0.events }
        var body = body
        if !attached.isEmpty { body[Self.runEventsField] = .array(attached.map(Self.attachment)) }
        let status: Int
        let json: JSONObject
        do {
            (status, json) = try await call("POST", path, body: body)
        } catch {
            if case .unreachable = error, !attached.isEmpty { staged.withLock { $0.unanswered = true } }
            // A server that rejects the extension's input must not cost the run its finish.
            guard case .refused(422, _) = error, !attached.isEmpty else { throw error }
            body.removeValue(forKey: Self.runEventsField)
            (status, json) = try await call("POST", path, body: body)
        }
        if status == 200, !attached.isEmpty, let recorded = json[Self.acknowledgement]?.intValue {
            staged.withLock { s in
                // 0 answers the replay of a finish already stored: after a lost answer, that was
                // this run's earlier attempt, with the same events, and it wrote them then (the
                // local store counts a replay the same way).
                if recorded == attached.count || (recorded == 0 && s.unanswered) { s.written = true }
            }
        }
        if status == 200 { return .done }
        guard status == 409 || Self.isKeyNotFound(status, json) else { throw notAnAnswer(path, status, json) }
        return .rejected(Self.describe(json))
    }

    static let runEventsField = "run_events"
    static let acknowledgement = "run_events_recorded"

    /// One `run_events` element: the server adds the run id, the lease id and its own time.
    static func attachment(_ event: RunEvent) -> JSON {
        var o: JSONObject = ["type": .string(event.type)]
        if let s = event.status { o["status"] = .string(String(s.prefix(128))) }
        if let m = event.message { o["message"] = .string(String(m.prefix(4096))) }
        if let d = event.data { o["data"] = d }
        return .object(o)
    }

    package func stageFinish(runId: String, events: [RunEvent], record: JSONValue) {
        let all = events + [.runRecord(runId: runId, ts: .now, record: record)]
        staged.withLock { $0 = Staged.State(events: all, written: false) }
    }

    package func flushStagedEvents() async {
        let events = staged.withLock { s -> [RunEvent] in
            defer { s.events = [] }
            return s.written ? [] : s.events.filter { $0.type != RunRecord.eventType }
        }
        for event in events { await record(runId: event.runId, event: event) }
    }

    package func stagedRunRecordWritten() -> Bool { staged.withLock { $0.written } }

    package func status(key: String) async throws(BackendError) -> KeyStatus? {
        let (status, json) = try await call("GET", "/ai/status", query: ["key": key])
        if Self.isKeyNotFound(status, json) { return nil }
        guard status == 200, json["status"]?.stringValue != nil else { throw notAnAnswer("/ai/status", status, json) }
        var result = Self.status(json)
        if result.status == "completed" || result.status == "failed" {
            let (_, stored) = try await call("GET", "/ai/result", query: ["key": key])
            result.result = stored["result"]
        }
        return result
    }

    static func status(_ json: JSONObject) -> KeyStatus {
        KeyStatus(
            status: json["status"]?.stringValue ?? "unknown", version: Int64(json["version"]?.intValue ?? 0),
            errorCode: json["error_code"]?.stringValue, doneAt: json["done_at"]?.stringValue,
            firstSeenAt: json["first_seen_at"]?.stringValue, ttlLeft: json["ttl_left"]?.intValue)
    }

    static func describe(_ detail: JSONObject) -> String {
        let code = detail["error"]?.stringValue ?? "conflict"
        return detail["message"]?.stringValue.map { "\(code): \($0)" } ?? code
    }

    package func record(runId: String, event: RunEvent) async {
        // No `ts`: the server stamps its own time, which orders these events among its own
        // run_started/run_finished (whole client seconds would sort before them).
        var body: JSONObject = ["run_id": .string(runId), "type": .string(event.type)]
        if let s = event.status { body["status"] = .string(s) }
        if let m = event.message { body["message"] = .string(m) }
        if let l = event.leaseId { body["lease_id"] = .string(l) }
        if let d = event.data { body["data"] = d }
        _ = try? await call("POST", "/events", body: body)
    }

    package func timeline(runId: String) async throws(BackendError) -> [StoredEvent] {
        let encoded = runId.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? runId
        let (_, json) = try await call("GET", "/runs/\(encoded)", query: ["limit": "2000"])
        return (json["events"]?.arrayValue ?? []).map { e in
            StoredEvent(
                id: Int64(e["id"]?.intValue ?? 0), ts: Int64(e["ts"]?.intValue ?? 0),
                type: e["type"]?.stringValue ?? "",
                status: e["status"]?.stringValue, message: e["message"]?.stringValue,
                data: e["data"])
        }
    }

    package func recordRun(runId: String, record: JSONValue) async {
        var body: JSONObject = ["run_id": .string(runId), "type": .string(RunRecord.eventType), "data": record]
        if let o = record["outcome"]?.stringValue { body["status"] = .string(o) }
        if let m = record["message"]?.stringValue { body["message"] = .string(String(m.prefix(4096))) }
        // Retried briefly: unlike the other events, this one is the run's entry in `runs`.
        for attempt in 0..<3 {
            if (try? await call("POST", "/events", body: body)) != nil { return }
            try? await Task.sleep(for: .milliseconds(200 << attempt))
        }
    }

    package func runPage(limit: Int, offset: Int) async throws(BackendError) -> [RunPageItem] {
        let (status, json) = try await call(
            "GET", "/runs", query: ["limit": String(min(limit, 500)), "offset": String(offset)])
        guard status == 200, let items = json["items"]?.arrayValue else { throw notAnAnswer("/runs", status, json) }
        return items.compactMap { item in
            guard let id = item["run_id"]?.stringValue else { return nil }
            return RunPageItem(runId: id, lastTs: Int64(item["last_ts"]?.intValue ?? 0) * 1000)
        }
    }
}
