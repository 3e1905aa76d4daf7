import Foundation
import OnceCore

/// The record of one run, stored as the lease's result: what ran, where, when, how it ended
/// and the tail of its output. `--replay` and `once-exec status` read it back.
package struct RunRecord: Sendable, Equatable {
    package var key: String
    package var runId: String
    package var fence: Int64
    package var host: String
    package var pid: Int32
    package var argv: [String]
    package var startedAt: Date
    package var endedAt: Date
    /// nil when COMMAND never ran (interrupted before it started).
    package var exit: ExitStatus?
    /// completed, failed, timeout, lost, canceled, interrupted.
    package var outcome: String
    package var stdoutTail: String?
    package var stderrTail: String?
    /// The lease's error code for a run that did not complete (`exit_3`, `max_runtime`, …).
    package var errorCode: String?
    package var message: String?
    /// The captured bytes as they were: when they are not UTF-8, the record keeps them in
    /// base64 too, so `--replay` and `--join` give them back byte for byte.
    package var stdoutBytes: [UInt8]?
    package var stderrBytes: [UInt8]?
    /// stdout and stderr shared one destination and one pipe: the stdout tail holds both.
    package var merged = false

    package init(
        key: String, runId: String, fence: Int64, host: String, pid: Int32, argv: [String], startedAt: Date,
        endedAt: Date, exit: ExitStatus?, outcome: String, stdoutTail: String? = nil, stderrTail: String? = nil
    ) {
        self.key = key
        self.runId = runId
        self.fence = fence
        self.host = host
        self.pid = pid
        self.argv = argv
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exit = exit
        self.outcome = outcome
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
    }

    package var json: JSONValue {
        var o: [String: JSONValue] = [
            "tool": .string("once-exec"), "key": .string(key), "run_id": .string(runId), "fence": .int(fence),
            "host": .string(host), "pid": .int(Int64(pid)), "argv": .array(argv.map { .string($0) }),
            "started_at": .string(Self.iso(startedAt)), "ended_at": .string(Self.iso(endedAt)),
            "duration_ms": .int(Int64((endedAt.timeIntervalSince(startedAt) * 1000).rounded())),
            "outcome": .string(outcome),
        ]
        switch exit {
        case .exited(let c)?:
            o["exit_code"] = .int(Int64(c))
            o["signal"] = .null
        case .signaled(let s)?:
            o["exit_code"] = .null
            o["signal"] = .string(signalName(s))
            o["signal_number"] = .int(Int64(s))
        case nil:
            o["exit_code"] = .null
            o["signal"] = .null
        }
        if let errorCode { o["error_code"] = .string(errorCode) }
        if merged { o["output_merged"] = .bool(true) }
        if let message { o["message"] = .string(message) }
        // The record must fit the service's result limit (256 KiB) even when the captured bytes
        // are control characters that JSON escapes six-fold: shorten the tails, keeping their ends.
        var out = stdoutTail
        var err = stderrTail
        var outRaw = stdoutBytes.flatMap { Self.isUTF8($0) ? nil : $0 }
        var errRaw = stderrBytes.flatMap { Self.isUTF8($0) ? nil : $0 }
        while true {
            o["stdout_tail"] = out.map { .string($0) } ?? .null
            o["stderr_tail"] = err.map { .string($0) } ?? .null
            o["stdout_tail_base64"] = outRaw.map { .string(Data($0).base64EncodedString()) }
            o["stderr_tail_base64"] = errRaw.map { .string(Data($0).base64EncodedString()) }
            if o["stdout_tail_base64"] == nil { o.removeValue(forKey: "stdout_tail_base64") }
            if o["stderr_tail_base64"] == nil { o.removeValue(forKey: "stderr_tail_base64") }
            let size = JSONValue.object(o).canonicalText.utf8.count
            if size <= Self.maxRecordBytes { break }
            out = out.map { String($0.suffix($0.count / 2)) }
            err = err.map { String($0.suffix($0.count / 2)) }
            outRaw = outRaw.map { Array($0.suffix($0.count / 2)) }
            errRaw = errRaw.map { Array($0.suffix($0.count / 2)) }
            o["output_truncated"] = .bool(true)
        }
        return .object(o)
    }

    package static let maxRecordBytes = 192 * 1024

    static func isUTF8(_ bytes: [UInt8]) -> Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// The record as a `run_record` timeline event keeps it (`once-exec runs`): one per attempt,
    /// with short tails, inside the service's 16 KiB limit for event data.
    package var historyJSON: JSONValue {
        var short = self
        short.stdoutTail = stdoutTail.map { String($0.suffix(1024)) }
        short.stderrTail = stderrTail.map { String($0.suffix(1024)) }
        short.stdoutBytes = nil
        short.stderrBytes = nil
        var json = short.json
        if case .object(var o) = json {
            o["started_ms"] = .int(Int64((startedAt.timeIntervalSince1970 * 1000).rounded(.down)))
            json = .object(o)
        }
        if json.canonicalText.utf8.count > 15 * 1024, case .object(var o) = json {
            o["stdout_tail"] = .null
            o["stderr_tail"] = .null
            o["output_truncated"] = .bool(true)
            json = .object(o)
        }
        return json
    }

    /// The timeline event type of a history record.
    package static let eventType = "run_record"

    static func iso(_ d: Date) -> String {
        Timestamp(milliseconds: Int64((d.timeIntervalSince1970 * 1000).rounded(.down))).iso8601
    }
}

/// Reading a stored record back (it may come from another host or an older version).
package struct StoredRun: Sendable {
    package let json: JSONValue

    package init?(_ value: JSONValue?) {
        guard let value, value["tool"]?.stringValue == "once-exec" else { return nil }
        json = value
    }

    /// The wrapper exit code the stored run had (0 for a completed run).
    package var shellCode: Int32 {
        if case .int(let c)? = json["exit_code"] { return Int32(truncatingIfNeeded: c) }
        if case .int(let s)? = json["signal_number"] { return 128 + Int32(truncatingIfNeeded: s) }
        return 1
    }

    package var host: String? { json["host"]?.stringValue }
    package var stdoutTail: String? { json["stdout_tail"]?.stringValue }
    /// The stored bytes: exact from base64 when the output was not UTF-8.
    package var stdoutBytes: Data? {
        json["stdout_tail_base64"]?.stringValue.flatMap { Data(base64Encoded: $0) } ?? stdoutTail.map { Data($0.utf8) }
    }
    package var stderrBytes: Data? {
        json["stderr_tail_base64"]?.stringValue.flatMap { Data(base64Encoded: $0) } ?? stderrTail.map { Data($0.utf8) }
    }
    package var stderrTail: String? { json["stderr_tail"]?.stringValue }
    package var runId: String? { json["run_id"]?.stringValue }

    package var durationText: String? {
        guard case .int(let ms)? = json["duration_ms"] else { return nil }
        return DurationText.format(.milliseconds(ms))
    }
}
