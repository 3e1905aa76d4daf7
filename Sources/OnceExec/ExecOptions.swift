import Foundation
import OnceCore

/// Everything a run was asked to do, after the command line was parsed and checked.
public struct ExecOptions: Sendable {
    public var key: String
    public var command: [String]
    /// Lease TTL in seconds.
    public var ttl: Int = 60
    public var heartbeat: Duration?
    public var killAfter: Duration = .seconds(10)
    public var maxRuntime: Duration?
    /// nil: do not wait; `.infinity`-like large value: wait forever.
    public var wait: Duration?
    public var join = false
    public var retryFailed = false
    public var replay = false
    public var onLeaseLost: LeaseLossPolicy = .stop
    public var ifUnreachable: UnreachablePolicy = .fail
    /// Bytes of stdout and of stderr to keep (0: no capture, output untouched).
    public var capture = 0
    public var shell = false
    public var json = false
    public var quiet = false
    public var exitCodes = ExitCodeMap()

    public init(key: String, command: [String]) {
        self.key = key
        self.command = command
    }
}

public enum UnreachablePolicy: String, Sendable, CaseIterable {
    /// Do not run; exit with the unreachable code.
    case fail
    /// Do not run; exit 0 (for best-effort de-duplication).
    case skip
    /// Run without a lease (at-least-once), telling the child `ONCE_FENCE` is empty.
    case run
}

/// What a finished run reports (`--json` prints it).
public struct ExecSummary: Sendable {
    public var key: String
    public var runId: String?
    public var outcome: ExecOutcome
    public var exitCode: Int32
    public var fence: Int64?
    public var leaseId: String?
    public var backend: String
    public var child: ExitStatus?
    public var durationMs: Int64?
    public var message: String?

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "key": .string(key), "outcome": .string(outcome.rawValue), "exit_code": .int(Int64(exitCode)),
            "backend": .string(backend),
            "run_id": runId.map { .string($0) } ?? .null,
            "fence": fence.map { .int($0) } ?? .null,
            "lease_id": leaseId.map { .string($0) } ?? .null,
            "duration_ms": durationMs.map { .int($0) } ?? .null,
            "message": message.map { .string($0) } ?? .null,
        ]
        switch child {
        case .exited(let c)?: o["child_exit_code"] = .int(Int64(c)); o["child_signal"] = .null
        case .signaled(let s)?: o["child_exit_code"] = .null; o["child_signal"] = .string(signalName(s))
        case nil: o["child_exit_code"] = .null; o["child_signal"] = .null
        }
        return .object(o)
    }
}
