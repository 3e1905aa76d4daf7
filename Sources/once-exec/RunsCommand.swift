import ArgumentParser
import Foundation
import OnceCore
import OnceExec

/// `once-exec runs`: what ran (overnight, say), across keys, one line per attempt.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List recent runs across keys, newest first (one line per attempt).",
        discussion:
            "Every attempt is listed, retried failures included: completed, failed, timeout (--max-runtime), lost (lease lost), canceled (interrupted by a signal), interrupted (before COMMAND started), expired (once-exec died and the lease ran out) and running.",
        aliases: ["history"])

    @OptionGroup var backend: BackendOptions

    @Option(help: ArgumentHelp("Only keys that start with PREFIX.", valueName: "prefix"))
    var key: String?

    @Flag(help: "Only runs that did not complete (failed, timeout, lost, canceled, interrupted, expired).")
    var failed = false

    @Option(help: ArgumentHelp("Only runs started within this long (e.g. 24h, 30m, 7d).", valueName: "duration"))
    var since: String?

    @Option(help: "At most this many runs (1-1000).")
    var limit = 50

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1-1000") }
        var filter = RunFilter(keyPrefix: key, failedOnly: failed, limit: limit)
        if let since {
            guard let d = DurationText.parse(since), d > .zero else {
                throw ValidationError("--since: cannot read \"\(since)\" as a duration (e.g. 24h, 30m, 7d)")
            }
            filter.since = Date().addingTimeInterval(-d.secondsValue)
        }
        let backend = try await self.backend.make()
        let entries: [RunEntry]
        do {
            entries = try await RunHistory.list(backend, filter)
        } catch {
            FileHandle.standardError.write(Data("once-exec: \(error)\n".utf8))
            throw ExitCode(error.inspectionExitCode)
        }
        if json {
            print(JSONValue.object(["runs": .array(entries.map(\.json))]).canonicalText)
            return
        }
        if entries.isEmpty {
            print("no runs" + (since.map { " in the last \($0)" } ?? "") + (failed ? " that failed" : ""))
            return
        }
        let rows = entries.map { e -> [String] in
            let exit = e.exitCode.map(String.init) ?? e.signal ?? "-"
            let took = e.durationMs.map { DurationText.format(.milliseconds($0)) } ?? "-"
            return [Timestamp(milliseconds: e.startedMs).iso8601, took, e.outcome, exit, e.host ?? "-", e.key, e.runId]
        }
        let header = ["STARTED", "TOOK", "OUTCOME", "EXIT", "HOST", "KEY", "RUN"]
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        for r in [header] + rows {
            print(
                r.enumerated().map { i, c in
                    i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  "))
        }
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension BackendError {
    /// `status`, `timeline` and `runs` exit 203 when the service fails, 78 when it refuses,
    /// 206 when the local store fails.
    var inspectionExitCode: Int32 {
        switch self {
        case .unreachable: ExecOutcome.unreachable.defaultCode
        case .refused: ExecOutcome.refused.defaultCode
        case .storage: ExecOutcome.internalError.defaultCode
        case .busy: ExecOutcome.busy.defaultCode
        }
    }
}
