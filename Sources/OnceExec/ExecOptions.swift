import Foundation
import OnceCore

/// Everything a run was asked to do, after the command line was parsed and checked.
package struct ExecOptions: Sendable {
    package var key: String
    package var command: [String]
    /// Lease TTL in seconds.
    package var ttl: Int = 60
    package var heartbeat: Duration?
    package var killAfter: Duration = .seconds(10)
    package var maxRuntime: Duration?
    /// nil: do not wait; `.infinity`-like large value: wait forever.
    package var wait: Duration?
    package var join = false
    package var retryFailed = false
    package var replay = false
    package var onLeaseLost: LeaseLossPolicy = .stop
    package var ifUnreachable: UnreachablePolicy = .fail
    /// Bytes of stdout and of stderr to keep (0: no capture, output untouched).
    package var capture = 0
    package var shell = false
    /// Whether COMMAND may see `ONCEONLY_API_KEY` (`--pass-api-key`); by default the
    /// wrapper's credential stays with the wrapper.
    package var passAPIKey = false
    package var json = false
    package var quiet = false
    package var exitCodes = ExitCodeMap()

    package init(key: String, command: [String]) {
        self.key = key
        self.command = command
    }
}

package enum UnreachablePolicy: String, Sendable, CaseIterable {
    /// Do not run; exit with the unreachable code.
    case fail
    /// Do not run; exit 0 (for best-effort de-duplication).
    case skip
    /// Run without a lease (at-least-once), telling the child `ONCE_FENCE` is empty.
    case run
}

/// What a finished run reports (`--json` prints it).
package struct ExecSummary: Sendable {
    package var key: String
    package var runId: String?
    package var outcome: ExecOutcome
    package var exitCode: Int32
    package var fence: Int64?
    package var leaseId: String?
    package var backend: String
    package var child: ExitStatus?
    package var durationMs: Int64?
    package var message: String?

    package init(
        key: String, runId: String? = nil, outcome: ExecOutcome, exitCode: Int32, fence: Int64? = nil,
        leaseId: String? = nil, backend: String, child: ExitStatus? = nil, durationMs: Int64? = nil,
        message: String?
    ) {
        self.key = key
        self.runId = runId
        self.outcome = outcome
        self.exitCode = exitCode
        self.fence = fence
        self.leaseId = leaseId
        self.backend = backend
        self.child = child
        self.durationMs = durationMs
        self.message = message
    }

    package var json: JSONValue {
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
