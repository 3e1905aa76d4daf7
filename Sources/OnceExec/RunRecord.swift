import Foundation
import OnceCore

/// The record of one run, stored as the lease's result: what ran, where, when, how it ended
/// and the tail of its output. `--replay` and `once-exec status` read it back.
public struct RunRecord: Sendable, Equatable {
    public var key: String
    public var runId: String
    public var fence: Int64
    public var host: String
    public var pid: Int32
    public var argv: [String]
    public var startedAt: Date
    public var endedAt: Date
    public var exit: ExitStatus
    public var outcome: String
    public var stdoutTail: String?
    public var stderrTail: String?

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "tool": .string("once-exec"), "key": .string(key), "run_id": .string(runId), "fence": .int(fence),
            "host": .string(host), "pid": .int(Int64(pid)), "argv": .array(argv.map { .string($0) }),
            "started_at": .string(Self.iso(startedAt)), "ended_at": .string(Self.iso(endedAt)),
            "duration_ms": .int(Int64((endedAt.timeIntervalSince(startedAt) * 1000).rounded())),
            "outcome": .string(outcome),
        ]
        switch exit {
        case .exited(let c):
            o["exit_code"] = .int(Int64(c))
            o["signal"] = .null
        case .signaled(let s):
            o["exit_code"] = .null
            o["signal"] = .string(signalName(s))
            o["signal_number"] = .int(Int64(s))
        }
        // The record must fit the service's result limit (256 KiB) even when the captured bytes
        // are control characters that JSON escapes six-fold: shorten the tails, keeping their ends.
        var out = stdoutTail
        var err = stderrTail
        while true {
            o["stdout_tail"] = out.map { .string($0) } ?? .null
            o["stderr_tail"] = err.map { .string($0) } ?? .null
            let size = JSONValue.object(o).canonicalText.utf8.count
            if size <= Self.maxRecordBytes { break }
            out = out.map { String($0.suffix($0.count / 2)) }
            err = err.map { String($0.suffix($0.count / 2)) }
            o["output_truncated"] = .bool(true)
        }
        return .object(o)
    }

    public static let maxRecordBytes = 192 * 1024

    static func iso(_ d: Date) -> String {
        Timestamp(milliseconds: Int64((d.timeIntervalSince1970 * 1000).rounded(.down))).iso8601
    }
}

/// Reading a stored record back (it may come from another host or an older version).
public struct StoredRun: Sendable {
    public let json: JSONValue

    public init?(_ value: JSONValue?) {
        guard let value, value["tool"]?.stringValue == "once-exec" else { return nil }
        json = value
    }

    /// The wrapper exit code the stored run had (0 for a completed run).
    public var shellCode: Int32 {
        if case .int(let c)? = json["exit_code"] { return Int32(truncatingIfNeeded: c) }
        if case .int(let s)? = json["signal_number"] { return 128 + Int32(truncatingIfNeeded: s) }
        return 1
    }

    public var host: String? { json["host"]?.stringValue }
    public var stdoutTail: String? { json["stdout_tail"]?.stringValue }
    public var stderrTail: String? { json["stderr_tail"]?.stringValue }
    public var runId: String? { json["run_id"]?.stringValue }

    public var durationText: String? {
        guard case .int(let ms)? = json["duration_ms"] else { return nil }
        return DurationText.format(.milliseconds(ms))
    }
}
