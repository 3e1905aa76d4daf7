import ArgumentParser
import Foundation
import OnceCore
import OnceExec

@main
struct OnceExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "once-exec",
        abstract:
            "Run a command exactly once per KEY: on one host (a local SQLite file) or across many (a once-server).",
        discussion: """
            once-exec takes a lease on KEY, runs COMMAND while renewing it, then records the outcome:
            completed (exit 0) or failed. A completed KEY is never run again; a KEY held elsewhere is
            skipped (or waited for). The child gets ONCE_KEY, ONCE_RUN_ID, ONCE_LEASE_ID and ONCE_FENCE
            (a token that strictly increases per key).

            Without a server the lease lives in a local SQLite file, like flock. With --server URL
            (or ONCEONLY_BASE_URL) and ONCEONLY_API_KEY it lives on a once-server shared by many hosts.

            Examples:
              once-exec 'backup:{date}' -- /usr/local/bin/backup.sh
              once-exec --wait 10m deploy:v42 -- ./deploy.sh v42
              once-exec status 'backup:{date}'

            Exit codes: the command's own code; 128+N if it died of signal N; 200 held by another run;
            201 previously failed; 202 lease lost; 203 service unreachable; 204 --max-runtime exceeded;
            127 command not found (126 not executable); 206 internal error; 78 refused by the service;
            64 usage; 128+N if signal N stopped once-exec before COMMAND started. A completed KEY
            exits 0. Remap with --exit-code OUTCOME=N. See once-exec(1).
            """,
        version: "0.1.0",
        subcommands: [RunCommand.self, StatusCommand.self, TimelineCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// Argument-parser cannot express `--wait [DURATION]` or a KEY that collides with a
    /// subcommand name, so the command line is normalised first: a `--` means a run, and a bare
    /// `--wait` (not followed by a duration) means wait without a limit.
    static func normalise(_ arguments: [String]) -> [String] {
        var args = arguments
        if let terminator = args.firstIndex(of: "--") {
            var head = Array(args[..<terminator])
            var i = 0
            while i < head.count {
                if head[i] == "--wait" {
                    let next = i + 1 < head.count ? head[i + 1] : nil
                    if next == nil || next.flatMap(DurationText.parse) == nil {
                        head[i] = "--wait=forever"
                    }
                }
                i += 1
            }
            if head.first != "run" { head.insert("run", at: 0) }
            args = head + args[terminator...]
        } else if let index = firstPositional(args), index > 0, ["status", "timeline"].contains(args[index]) {
            // `once-exec --server URL status KEY`: the subcommand must come first for the parser.
            let name = args.remove(at: index)
            args.insert(name, at: 0)
        }
        return args
    }

    /// Index of the first argument that is not an option or an option's value.
    static func firstPositional(_ args: [String]) -> Int? {
        let takesValue: Set<String> = ["--server", "--state", "--tz", "--key"]
        var i = 0
        while i < args.count {
            let a = args[i]
            if !a.hasPrefix("-") { return i }
            i += takesValue.contains(a) ? 2 : 1
        }
        return nil
    }

    static func main() async {
        await main(normalise(Array(CommandLine.arguments.dropFirst())))
    }
}
