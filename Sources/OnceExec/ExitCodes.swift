/// Every way a once-exec run can end, each with its own exit code (remappable with
/// `--exit-code OUTCOME=N`, as `flock -E` does for conflicts).
///
/// The child's own exit code is passed through unchanged, and death by signal N is 128+N, so
/// the wrapper's own outcomes use codes a shell does not: 200–206, sysexits' 64 (usage)
/// and 78 (refused by the service), and the shell's own 127 for a command that cannot start.
package enum ExecOutcome: String, Sendable, CaseIterable, Codable {
    /// The child ran; its exit code (or 128+signal) is the wrapper's.
    case ran
    /// The key was already completed; the child did not run.
    case completed
    /// Another holder has the key (and `--wait` was not given, or ran out).
    case held
    /// The key's last run failed and `--retry-failed` was not given.
    case failed
    /// The lease could not be kept; the child was stopped.
    case leaseLost = "lost"
    /// The lease service could not be reached (and `--if-unreachable fail`).
    case unreachable
    /// The lease service could not be reached and `--if-unreachable skip` said not to run.
    case skipped
    /// The lease service refused the request itself: a bad or revoked API key, a plan limit.
    case refused
    /// The child ran longer than `--max-runtime` and was stopped.
    case timeout
    /// A signal reached once-exec before COMMAND started (while waiting, say): exit 128+N,
    /// as if once-exec had been killed by it. Not remappable.
    case interrupted
    /// Usage error: bad flags, a bad KEY template, an unknown time zone.
    case usage
    /// The command could not be started (not found, not executable).
    case spawnFailed = "spawn"
    /// The local store stayed locked by other processes past `--busy-timeout`; COMMAND did
    /// not run. Not "unreachable": `--if-unreachable run` must not run a local job without
    /// its lease because another writer holds the file for a while.
    case busy
    /// Something failed inside once-exec itself (e.g. the local store cannot be opened).
    case internalError = "internal"

    package var defaultCode: Int32 {
        switch self {
        case .ran: 0
        case .completed: 0
        case .held: 200
        case .failed: 201
        case .leaseLost: 202
        case .unreachable: 203
        case .skipped: 0
        case .refused: 78
        case .timeout: 204
        case .interrupted: 130
        case .usage: 64
        case .spawnFailed: 127
        case .busy: 205
        case .internalError: 206
        }
    }
}

/// The exit codes in force for one run after `--exit-code` remaps.
package struct ExitCodeMap: Sendable, Equatable {
    private var codes: [ExecOutcome: Int32] = [:]

    package init() {}

    package func code(for outcome: ExecOutcome) -> Int32 { codes[outcome] ?? outcome.defaultCode }

    package func isRemapped(_ outcome: ExecOutcome) -> Bool { codes[outcome] != nil }

    /// Parses `OUTCOME=N` (N in 0–255). `ran` cannot be remapped: it is the child's own code.
    package mutating func apply(_ spec: String) throws(ExitCodeMapError) {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        // `ran` is the child's own code; `usage` and `interrupted` happen before or outside any mapping.
        guard parts.count == 2, let outcome = ExecOutcome(rawValue: parts[0]),
            ![.ran, .usage, .interrupted].contains(outcome)
        else {
            throw .badSpec(spec)
        }
        guard let n = Int32(parts[1]), (0...255).contains(n) else { throw .badSpec(spec) }
        codes[outcome] = n
    }
}

package enum ExitCodeMapError: Error, CustomStringConvertible {
    case badSpec(String)
    package var description: String {
        switch self {
        case .badSpec(let s):
            "bad --exit-code \(s): expected OUTCOME=N with N in 0-255 and OUTCOME one of "
                + ExecOutcome.allCases.filter { ![.ran, .usage, .interrupted].contains($0) }.map(\.rawValue)
                .joined(separator: ", ")
        }
    }
}
