import Foundation
import OnceCore

/// One attempt of one key, as `once-exec runs` lists it.
package struct RunEntry: Sendable, Equatable {
    package var key: String
    package var runId: String
    /// Unix milliseconds.
    package var startedMs: Int64
    package var durationMs: Int64?
    /// completed, failed, timeout, lost, canceled, interrupted; `expired` for a run whose
    /// once-exec died and whose lease ran out; `running` while none of that is known yet.
    package var outcome: String
    package var exitCode: Int32?
    package var signal: String?
    package var host: String?
    package var errorCode: String?
    package var record: JSONValue?

    /// Anything but completed (and running): what `--failed` shows.
    package var isFailure: Bool { outcome != "completed" && outcome != "running" }

    package var json: JSONValue {
        .object([
            "key": .string(key), "run_id": .string(runId),
            "started_at": .string(Timestamp(milliseconds: startedMs).iso8601),
            "duration_ms": durationMs.map { .int($0) } ?? .null, "outcome": .string(outcome),
            "exit_code": exitCode.map { .int(Int64($0)) } ?? .null, "signal": signal.map { .string($0) } ?? .null,
            "host": host.map { .string($0) } ?? .null, "error_code": errorCode.map { .string($0) } ?? .null,
            "stdout_tail": record?["stdout_tail"] ?? .null, "stderr_tail": record?["stderr_tail"] ?? .null,
        ])
    }

    /// The entry a run's timeline describes, or nil for a run that is not once-exec's.
    package init?(runId: String, events: [StoredEvent]) {
        if let stored = events.last(where: { $0.type == RunRecord.eventType }), let r = stored.data,
            let key = r["key"]?.stringValue
        {
            self.key = key
            self.runId = runId
            if case .int(let ms)? = r["started_ms"] { startedMs = Int64(ms) } else { startedMs = stored.ts * 1000 }
            if case .int(let d)? = r["duration_ms"] { durationMs = Int64(d) }
            outcome = r["outcome"]?.stringValue ?? "unknown"
            if case .int(let c)? = r["exit_code"] { exitCode = Int32(truncatingIfNeeded: c) }
            signal = r["signal"]?.stringValue
            host = r["host"]?.stringValue
            errorCode = r["error_code"]?.stringValue
            record = r
            return
        }
        // No record: once-exec did not get to write one (it was killed, or it still runs).
        guard let started = events.first(where: { $0.type == "run_started" }),
            let key = started.data?["key"]?.stringValue,
            events.contains(where: { $0.type == ExecEventKind.childSpawned.rawValue })
        else { return nil }
        self.key = key
        self.runId = runId
        startedMs = started.ts * 1000
        if let end = events.last(where: { $0.type == "run_finished" }) {
            outcome = end.message == "lease_expired" ? "expired" : (end.status ?? "unknown")
            errorCode = end.message
            durationMs = (end.ts - started.ts) * 1000
        } else {
            outcome = "running"
        }
    }
}

/// What `once-exec runs` asks for.
package struct RunFilter: Sendable {
    package var keyPrefix: String?
    package var failedOnly = false
    package var since: Date?
    package var limit = 50

    package init(keyPrefix: String? = nil, failedOnly: Bool = false, since: Date? = nil, limit: Int = 50) {
        self.keyPrefix = keyPrefix
        self.failedOnly = failedOnly
        self.since = since
        self.limit = limit
    }

    func admits(_ e: RunEntry) -> Bool {
        if let keyPrefix, !e.key.hasPrefix(keyPrefix) { return false }
        if failedOnly, !e.isFailure { return false }
        if let since, e.startedMs < Int64(since.timeIntervalSince1970 * 1000) { return false }
        return true
    }
}

package enum RunHistory {
    /// Recent runs across keys, newest start first. Walks the run list (most recently active
    /// first) and reads each run's timeline; stops at `limit` matches or at runs last active
    /// before `since`.
    package static func list(_ backend: any LeaseBackend, _ filter: RunFilter) async throws(BackendError) -> [RunEntry]
    {
        var found: [RunEntry] = []
        var offset = 0
        let page = 100
        let sinceMs = filter.since.map { Int64($0.timeIntervalSince1970 * 1000) - 1000 }
        walk: while found.count < filter.limit {
            let items = try await backend.runPage(limit: page, offset: offset)
            for item in items {
                if let sinceMs, item.lastTs < sinceMs { break walk }
                let events = try await backend.timeline(runId: item.runId)
                guard let entry = RunEntry(runId: item.runId, events: events), filter.admits(entry) else { continue }
                found.append(entry)
                if found.count >= filter.limit { break walk }
            }
            if items.count < page { break }
            offset += items.count
        }
        return found.sorted { ($0.startedMs, $0.runId) > ($1.startedMs, $1.runId) }
    }
}
