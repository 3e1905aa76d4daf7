import ArgumentParser
import Foundation
import OnceCore
import OnceExec

#if canImport(Glibc)
    import Glibc
#endif

@main
struct OnceExecCommand: AsyncParsableCommand {
    // Paragraphs are single lines: the parser wraps them to the terminal, and a line break in
    // the source would show up in mid-sentence.
    static let overview = """
        once-exec takes a lease on KEY, runs COMMAND while renewing it, then records the outcome: completed (exit 0) or failed. A completed KEY is never run again; a KEY held elsewhere is skipped (or waited for). The child gets ONCE_KEY, ONCE_RUN_ID, ONCE_LEASE_ID and ONCE_FENCE (a token that strictly increases per key), but not ONCEONLY_API_KEY (unless --pass-api-key).

        Without a server the lease lives in a local SQLite file, like flock. With --server URL (or ONCEONLY_BASE_URL) and ONCEONLY_API_KEY it lives on a once-server shared by many hosts.

        Examples:
          once-exec 'backup:{date}' -- /usr/local/bin/backup.sh
          once-exec --wait 10m deploy:v42 -- ./deploy.sh v42
          once-exec status 'backup:{date}'
          once-exec runs --failed --since 24h

        Exit codes: the command's own code; 128+N if it died of signal N; 200 held by another run; 201 previously failed; 202 lease lost; 203 service unreachable; 204 --max-runtime exceeded; 205 the local store stayed locked by other processes (busy, never run without a lease); 127 command not found (126 not executable); 206 internal error; 78 refused by the service; 64 usage; 128+N if signal N stopped once-exec before COMMAND started. A completed KEY exits 0. A command that itself exits 200-206 looks like one of these: remap once-exec's codes with --exit-code OUTCOME=N (or use --json) to tell them apart. See once-exec(1).
        """

    static let configuration = CommandConfiguration(
        commandName: "once-exec",
        abstract:
            "Run a command exactly once per KEY: on one host (a local SQLite file) or across many (a once-server).",
        discussion: overview,
        version: OnceVersion.text,
        subcommands: [RunCommand.self, StatusCommand.self, TimelineCommand.self, RunsCommand.self],
        defaultSubcommand: RunCommand.self
    )

    static let subcommandNames: Set<String> = ["run", "status", "timeline", "runs", "history", "help"]

    /// Options that take a value (as separate words), for finding the positional arguments.
    static let takesValue: Set<String> = [
        "--server", "--state", "--busy-timeout", "--tz", "--key", "--ttl",
        "--heartbeat", "--kill-after", "--max-runtime",
        "--on-lease-lost", "--if-unreachable", "--capture", "--slot-time", "--exit-code", "--since", "--limit",
    ]

    /// Duration options: their value may start with `-` (`--max-runtime -5`), which the parser
    /// would take for an option; joined as `--max-runtime=-5` the duration check speaks.
    static let durationOptions: Set<String> = [
        "--wait", "--heartbeat", "--kill-after", "--max-runtime", "--busy-timeout",
    ]

    /// Argument-parser cannot express `--wait [DURATION]` or a KEY that collides with a
    /// subcommand name, so the command line is normalised first: a `--` means a run, and a bare
    /// `--wait` (not followed by a duration) means wait without a limit.
    static func normalise(_ arguments: [String]) -> [String] {
        var args = arguments
        if let terminator = args.firstIndex(of: "--") {
            var head = Array(args[..<terminator])
            var i = 0
            while i < head.count {
                let a = head[i]
                let next = i + 1 < head.count ? head[i + 1] : nil
                if a == "--wait" {
                    if let next, DurationText.parse(next) != nil {
                        i += 2
                        continue
                    }
                    if let next, looksLikeDuration(next), firstPositional(Array(head[(i + 2)...])) != nil {
                        // `--wait 5x KEY`: a bad duration, not a KEY followed by an extra word.
                        head[i] = "--wait=\(next)"
                        head.remove(at: i + 1)
                    } else {
                        head[i] = "--wait=forever"
                    }
                } else if durationOptions.contains(a) || a == "--ttl" || a == "--capture", let next,
                    next.count > 1, next.hasPrefix("-"),
                    next.dropFirst().first.map({ $0.isNumber || $0 == "." }) == true
                {
                    head[i] = "\(a)=\(next)"
                    head.remove(at: i + 1)
                }
                i += 1
            }
            if head.first != "run" { head.insert("run", at: 0) }
            args = head + args[terminator...]
        } else if let index = firstPositional(args), index > 0,
            ["status", "timeline", "runs", "history"].contains(args[index])
        {
            // `once-exec --server URL status KEY`: the subcommand must come first for the parser.
            let name = args.remove(at: index)
            args.insert(name, at: 0)
        }
        return args
    }

    /// `--generate-completion-script SHELL` (or `=SHELL`): answered here, with the scripts
    /// patched for the default subcommand (see ``CompletionScripts``).
    static func completionShellRequested(_ args: [String]) -> CompletionShell? {
        let flag = "--generate-completion-script"
        if args.count == 2, args[0] == flag { return CompletionShell(rawValue: args[1]) }
        if args.count == 1, args[0].hasPrefix(flag + "=") {
            return CompletionShell(rawValue: String(args[0].dropFirst(flag.count + 1)))
        }
        return nil
    }

    static func looksLikeDuration(_ word: String) -> Bool {
        guard let first = word.first else { return false }
        return first.isNumber || first == "." || (first == "-" && word.dropFirst().first?.isNumber == true)
    }

    /// Index of the first argument that is not an option or an option's value.
    static func firstPositional(_ args: [String]) -> Int? {
        var i = 0
        while i < args.count {
            let a = args[i]
            if !a.hasPrefix("-") { return i }
            i += takesValue.contains(a) ? 2 : 1
        }
        return nil
    }

    /// `once-exec KEY echo hi`: the `--` is missing. The parser would only say "2 unexpected
    /// arguments"; say what is wrong.
    static func missingTerminator(_ args: [String]) -> String? {
        guard !args.contains("--"), let first = firstPositional(args), !subcommandNames.contains(args[first])
        else { return nil }
        let rest = Array(args[(first + 1)...])
        guard let command = firstPositional(rest) else { return nil }
        return
            "missing -- between KEY and COMMAND: once-exec [options] \(args[first]) -- \(rest[command...].joined(separator: " "))"
    }

    static func main() async {
        let raw = Array(CommandLine.arguments.dropFirst())
        // Answered before argument-parser runs: its reflection over every option (Mirror and
        // type lookups by mangled name) is most of a bare start's CPU time in a profile.
        if raw == ["--version"] {
            print(configuration.version)
            return
        }
        if raw == ["--help"] || raw == ["-h"] || raw == ["help"] {
            // The run options are what a newcomer needs: show them at the top level.
            print(OnceExecCommand.helpMessage(for: RunCommand.self))
            print(
                "\nSUBCOMMANDS:\n  run (default)           Run COMMAND once for KEY.\n"
                    + "  status                  Show KEY's state, its last run and its output tails.\n"
                    + "  timeline                Show a run's events.\n"
                    + "  runs, history           List recent runs across keys (--failed, --since, --key, --json).\n\n"
                    + "  See 'once-exec help <subcommand>' for its options.")
            return
        }
        if let shell = completionShellRequested(raw) {
            print(CompletionScripts.script(for: shell), terminator: "")
            return
        }
        if let hint = missingTerminator(raw) {
            FileHandle.standardError.write(Data("Error: \(hint)\n".utf8))
            Glibc.exit(ExecOutcome.usage.defaultCode)
        }
        let arguments = normalise(raw)
        // The common run line skips argument-parser (see ``RunArgumentsParser``); a line it
        // does not read exactly, or one whose options do not check, goes the long way, so every
        // message and its usage line stay argument-parser's.
        if let fast = RunArgumentsParser.parse(arguments), let options = try? fast.makeOptions() {
            let code: Int32
            do {
                code = try await RunCommand.execute(fast, options: options)
            } catch let exit as ExitCode {
                code = exit.rawValue
            } catch {
                // A usage problem of the backend options (they are checked before anything
                // starts): argument-parser's message and exit code.
                OnceExecCommand.exit(withError: error)
            }
            Glibc.exit(code)
        }
        await main(arguments)
    }
}
