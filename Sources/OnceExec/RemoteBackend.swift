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
    private func notAnAnswer(_ path: String, _ status: Int, _ detail: JSONObject) -> BackendError {
        var text = ""
        if let t = detail["detail"]?.stringValue ?? detail["message"]?.stringValue { text = " (\(t))" }
        return .refused(
            status: status,
            message: "\(client.baseURL)\(path) answered HTTP \(status)\(text), not a once-server reply; "
                + "check the server URL (it is the part before /v1)")
    }

    /// The one mapping of the SDK's errors: no answer and 5xx are "unreachable" (what
    /// `--if-unreachable` is about); a 2xx that is not a lease answer, or a 404 that is not the
    /// API's `not_found`, means the URL is not a once-server's; any other answer is a refusal.
    /// (The answers a holder expects, 409 and `not_found`, arrive as values from ``LeaseClient``.)
    private func backendError(_ error: any Error, _ path: String) -> BackendError {
        guard let error = error as? OnceOnlyError else { return .unreachable("\(error)") }
        if error.isServiceUnreachable { return .unreachable(error.message) }
        switch error {
        case .api(let status, let detail, _) where (200..<300).contains(status) || status == 404:
            return notAnAnswer(path, status, detail)
        case .api(let status, _, let message) where status >= 500:
            return .unreachable("HTTP \(status): \(message)")
        default:
            return .refused(status: error.statusCode ?? 0, message: error.message)
        }
    }

    /// Runs one SDK call, its errors mapped by ``backendError(_:_:)``.
    private func calling<T>(_ path: String, _ body: () async throws -> T) async throws(BackendError) -> T {
        do {
            return try await body()
        } catch {
            throw backendError(error, path)
        }
    }

    package func acquire(key: String, ttl: Int, runId: String, retryFailed: Bool, holder: LeaseHolder)
        async throws(BackendError)
        -> AcquireResult
    {
        let outcome = try await calling("/ai/lease") {
            try await client.leases.acquire(
                key: key, ttl: ttl, metadata: holder.metadata(runId: runId).objectValue, retryFailed: retryFailed)
        }
        switch outcome {
        case .acquired(let lease):
            return .acquired(
                Lease(key: key, leaseId: lease.leaseId, version: Int64(lease.version), ttl: lease.ttl ?? ttl))
        case .held(let run):
            return .held(ttlLeft: run.ttlLeft)
        case .finished(let run):
            // The lease answer has no result; the status read brings the stored record.
            if let status = try await status(key: key) { return .finished(status) }
            return .finished(Self.status(run.raw))
        }
    }

    package func extend(key: String, leaseId: String, ttl: Int) async throws(BackendError) -> RenewResult {
        let outcome = try await calling("/ai/extend") {
            try await client.leases.extend(key: key, leaseId: leaseId, ttl: ttl)
        }
        switch outcome {
        case .applied: return .renewed
        case .conflict(let conflict): return .rejected(Self.describe(conflict))
        case .notFound: return .rejected(Self.notFound)
        }
    }

    package func complete(key: String, leaseId: String, record: JSONValue) async throws(BackendError) -> FinishResult {
        try await finish("/ai/complete") { events in
            try await client.leases.complete(key: key, leaseId: leaseId, result: record.objectValue, runEvents: events)
        }
    }

    package func fail(key: String, leaseId: String, errorCode: String, record: JSONValue) async throws(BackendError)
        -> FinishResult
    {
        // `result` on /ai/fail is once-server's extension; other servers ignore it.
        try await finish("/ai/fail") { events in
            try await client.leases.fail(
                key: key, leaseId: leaseId, errorCode: errorCode, result: record, runEvents: events)
        }
    }

    package func cancel(key: String, leaseId: String, reason: String) async throws(BackendError) -> FinishResult {
        try await finish("/ai/cancel") { events in
            try await client.leases.cancel(key: key, leaseId: leaseId, reason: reason, runEvents: events)
        }
    }

    /// Sends the staged end of the run with the finish (`run_events`, once-server's extension),
    /// so the run makes one round trip after the child exits. A server that writes them says so
    /// (`run_events_recorded`); any other (the official service, an older once-server) ignores
    /// the field, and ``flushStagedEvents()`` then posts them one by one as before.
    private func finish(
        _ path: String, _ send: ([RunEventAttachment]) async throws -> LeaseUpdateOutcome
    ) async throws(BackendError) -> FinishResult {
        let attached = staged.withLock { $0.written ? [] : $0.events }.map(Self.attachment)
        let outcome: LeaseUpdateOutcome
        do {
            outcome = try await calling(path) { try await send(attached) }
        } catch {
            if case .unreachable = error, !attached.isEmpty { staged.withLock { $0.unanswered = true } }
            // A server that rejects the extension's input must not cost the run its finish.
            guard case .refused(422, _) = error, !attached.isEmpty else { throw error }
            outcome = try await calling(path) { try await send([]) }
        }
        switch outcome {
        case .applied(let update):
            if !attached.isEmpty, let recorded = update.runEventsRecorded {
                staged.withLock { s in
                    // 0 answers the replay of a finish already stored: after a lost answer, that
                    // was this run's earlier attempt, with the same events, and it wrote them then
                    // (the local store counts a replay the same way).
                    if recorded == attached.count || (recorded == 0 && s.unanswered) { s.written = true }
                }
            }
            return .done
        case .conflict(let conflict): return .rejected(Self.describe(conflict))
        case .notFound: return .rejected(Self.notFound)
        }
    }

    /// One `run_events` element, cut to the server's limits: the server adds the run id, the
    /// lease id and its own time.
    static func attachment(_ event: RunEvent) -> RunEventAttachment {
        RunEventAttachment(
            type: event.type, status: event.status.map { String($0.prefix(128)) },
            message: event.message.map { String($0.prefix(4096)) }, data: event.data?.objectValue)
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
        guard let read = try await calling("/ai/status", { try await client.leases.status(key: key) }) else {
            return nil
        }
        var status = Self.status(read.raw)
        if status.status == "completed" || status.status == "failed" {
            let stored = try await calling("/ai/result") { try await client.leases.result(key: key) }
            status.result = stored?.raw["result"]
        }
        return status
    }

    static func status(_ json: JSONObject) -> KeyStatus {
        KeyStatus(
            status: json["status"]?.stringValue ?? "unknown", version: Int64(json["version"]?.intValue ?? 0),
            errorCode: json["error_code"]?.stringValue, doneAt: json["done_at"]?.stringValue,
            firstSeenAt: json["first_seen_at"]?.stringValue, ttlLeft: json["ttl_left"]?.intValue)
    }

    /// A refused update as `code: message`.
    static func describe(_ conflict: LeaseConflict) -> String {
        conflict.message.map { "\(conflict.code): \($0)" } ?? conflict.code
    }

    /// A 404 `not_found` to an update, in the local backend's words.
    static let notFound = "not_found: the key has no lease"

    package func record(runId: String, event: RunEvent) async {
        // No `ts`: the server stamps its own time, which orders these events among its own
        // run_started/run_finished (whole client seconds would sort before them).
        _ = try? await client.postEvent(
            runId: runId, type: event.type, status: event.status, leaseId: event.leaseId, message: event.message,
            data: event.data?.objectValue)
    }

    package func timeline(runId: String) async throws(BackendError) -> [StoredEvent] {
        let page: JSONObject
        do {
            page = try await client.getRunTimeline(runId: runId, limit: 2000)
        } catch OnceOnlyError.api(404, _, _) {
            // No timeline at this URL: nothing to show, as a run without events.
            return []
        } catch {
            throw backendError(error, "/runs/\(runId)")
        }
        return (page["events"]?.arrayValue ?? []).map { e in
            StoredEvent(
                id: Int64(e["id"]?.intValue ?? 0), ts: Int64(e["ts"]?.intValue ?? 0),
                type: e["type"]?.stringValue ?? "",
                status: e["status"]?.stringValue, message: e["message"]?.stringValue, data: e["data"])
        }
    }

    package func recordRun(runId: String, record: JSONValue) async {
        // Retried as the finish is (unlike the other events, this one is the run's entry in `runs`).
        let policy = RetryPolicy.runEnd
        for retry in 0...policy.maxRetries {
            do {
                _ = try await client.postEvent(
                    runId: runId, type: RunRecord.eventType, status: record["outcome"]?.stringValue,
                    message: record["message"]?.stringValue.map { String($0.prefix(4096)) },
                    data: record.objectValue)
                return
            } catch {
                guard policy.allowsRetry(afterFailures: retry + 1) else { return }
                try? await Task.sleep(for: policy.duration(beforeRetry: retry))
            }
        }
    }

    package func runPage(limit: Int, offset: Int) async throws(BackendError) -> [RunPageItem] {
        let page = try await calling("/runs") { try await client.listRuns(limit: min(limit, 500), offset: offset) }
        guard let items = page["items"]?.arrayValue else { throw notAnAnswer("/runs", 200, page) }
        return items.compactMap { item in
            guard let id = item["run_id"]?.stringValue else { return nil }
            return RunPageItem(runId: id, lastTs: Int64(item["last_ts"]?.intValue ?? 0) * 1000)
        }
    }
}
