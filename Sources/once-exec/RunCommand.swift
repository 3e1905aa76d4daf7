import ArgumentParser
import Foundation
import OnceCore
import OnceExec

extension LeaseLossPolicy: ExpressibleByArgument {}
extension UnreachablePolicy: ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Run COMMAND once for KEY (the default: `once-exec KEY -- COMMAND` means `once-exec run KEY -- COMMAND`).",
        discussion: OnceExecCommand.overview)

    @OptionGroup var backend: BackendOptions

    @Option(help: "Lease TTL in seconds; the lease is renewed every TTL/3 while COMMAND runs.")
    var ttl = RunArguments.Defaults.ttl

    @Option(help: ArgumentHelp("Time between renewals (default: TTL/3; at least 100ms).", valueName: "duration"))
    var heartbeat: String?

    @Option(
        help: ArgumentHelp(
            "Grace between SIGTERM and SIGKILL when once-exec stops COMMAND.", valueName: "duration"))
    var killAfter = RunArguments.Defaults.killAfter

    @Option(help: ArgumentHelp("Stop COMMAND after this long and fail the run (0: no limit).", valueName: "duration"))
    var maxRuntime: String?

    @Option(
        help: ArgumentHelp(
            "If another run holds KEY, wait for it (up to DURATION; a bare --wait waits without limit).",
            valueName: "duration"))
    var wait: String?

    @Flag(help: "With --wait: when the other run finishes, take its outcome (exit code and output) instead of running.")
    var join = false

    @Flag(help: "Run again if KEY's last run failed (by default a failed KEY is not retried).")
    var retryFailed = false

    @Flag(help: "If KEY already completed, print its stored output (see --capture) and exit with its code.")
    var replay = false

    @Option(help: "When the lease is lost: stop (SIGTERM the group, then SIGKILL) or warn.")
    var onLeaseLost = RunArguments.Defaults.onLeaseLost

    @Option(help: "When the lease service cannot be reached at start: fail, skip (exit 0) or run without a lease.")
    var ifUnreachable = RunArguments.Defaults.ifUnreachable

    @Option(help: ArgumentHelp("Keep the last N bytes of stdout and of stderr in the run record.", valueName: "bytes"))
    var capture = RunArguments.Defaults.capture

    @Flag(help: "Run COMMAND through /bin/sh -c (joined with spaces). By default no shell is involved.")
    var shell = false

    @Flag(help: "Pass ONCEONLY_API_KEY on to COMMAND (by default COMMAND does not see once-exec's credential).")
    var passApiKey = false

    @Option(help: ArgumentHelp("Time zone for {date}, {hour}, {week}, {month} in KEY.", valueName: "zone"))
    var tz = RunArguments.Defaults.tz

    @Option(
        help: ArgumentHelp(
            "The slot's time for KEY placeholders (ISO 8601, e.g. the scheduled time); default now.",
            valueName: "time"))
    var slotTime: String?

    @Option(
        name: .customLong("exit-code"),
        help: ArgumentHelp(
            "Remap an outcome's exit code, e.g. held=1 (repeatable). Outcomes: completed held failed lost unreachable skipped refused timeout busy spawn internal.",
            valueName: "outcome=n"))
    var exitCodes: [String] = []

    @Flag(help: "Print one JSON summary object on stdout when done.")
    var json = false

    @Flag(name: .shortAndLong, help: "Say nothing when skipping.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Report waits, failed or late renewals and retries on stderr.")
    var verbose = false

    @Argument(help: "The key to run once. Placeholders {date} {hour} {minute} {week} {month} {year} make slot keys.")
    var key: String

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    /// The words as parsed, for the checks and the run shared with the fast path.
    var arguments: RunArguments {
        var a = RunArguments(key: key, command: command)
        a.server = backend.server
        a.state = backend.state
        a.busyTimeout = backend.busyTimeout
        a.ttl = ttl
        a.heartbeat = heartbeat
        a.killAfter = killAfter
        a.maxRuntime = maxRuntime
        a.wait = wait
        a.join = join
        a.retryFailed = retryFailed
        a.replay = replay
        a.onLeaseLost = onLeaseLost
        a.ifUnreachable = ifUnreachable
        a.capture = capture
        a.shell = shell
        a.passApiKey = passApiKey
        a.tz = tz
        a.slotTime = slotTime
        a.exitCodes = exitCodes
        a.json = json
        a.quiet = quiet
        a.verbose = verbose
        return a
    }

    func makeOptions() throws -> ExecOptions {
        do {
            return try arguments.makeOptions()
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Checked while parsing, so a bad option's message comes with this command's usage line.
    func validate() throws { _ = try makeOptions() }

    func run() async throws {
        throw ExitCode(try await Self.execute(arguments, options: try makeOptions()))
    }

    /// Takes the lease, runs COMMAND and finishes the run; the exit code. Shared by the
    /// argument-parser path and the fast path (``RunArgumentsParser``). Usage problems of the
    /// backend options come out as `ValidationError` before anything is opened or started.
    static func execute(_ arguments: RunArguments, options: ExecOptions) async throws -> Int32 {
        let target = try BackendOptions.resolve(
            server: arguments.server, state: arguments.state, busyTimeout: arguments.busyTimeout)
        // Take the signals over first: from here on INT/TERM/HUP/QUIT stop a wait or reach the child.
        SignalForwarder.prepare()
        let relay = SignalRelay()
        let forwarder = SignalForwarder { relay.deliver($0) }
        defer { forwarder.cancel() }
        let backend: any LeaseBackend
        do {
            backend = try await target.open(exitCodes: options.exitCodes, reportBusy: false)
        } catch let busy as BusyStore {
            // Locked already while opening: the same outcome as a busy acquire, --json included.
            FileHandle.standardError.write(Data("once-exec: \(busy.message); not running \(options.key)\n".utf8))
            let code = options.exitCodes.code(for: .busy)
            if options.json {
                let summary = ExecSummary(
                    key: options.key, outcome: .busy, exitCode: code, backend: "local store", message: busy.message)
                print(summary.json.canonicalText)
            }
            return code
        }
        let summary = await Runner(options: options, backend: backend, relay: relay, verbose: arguments.verbose)
            .run()
        if options.json { print(summary.json.canonicalText) }
        return summary.exitCode
    }
}

/// The local store stayed locked while being opened (exit 205, see ``ExecOutcome/busy``).
struct BusyStore: Error {
    var message: String
}

/// Where leases live: a once-server, or the local SQLite file.
struct BackendOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.",
            valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).", valueName: "path"))
    var state: String?

    @Option(
        help: ArgumentHelp(
            "How long to wait for another process that holds the local store's file before giving up (exit 205 busy).",
            valueName: "duration"))
    var busyTimeout = RunArguments.Defaults.busyTimeout

    func make(exitCodes: ExitCodeMap = ExitCodeMap(), reportBusy: Bool = true) async throws -> any LeaseBackend {
        try await Self.resolve(server: server, state: state, busyTimeout: busyTimeout)
            .open(exitCodes: exitCodes, reportBusy: reportBusy)
    }

    /// Where the leases are, decided from the options and the environment alone: every usage
    /// problem is a `ValidationError` here, before a file is opened or a signal taken over.
    /// `--server` and `--state` together are a usage error; `--state` beats `ONCEONLY_BASE_URL`
    /// (an explicit flag wins over the environment).
    static func resolve(server: String?, state: String?, busyTimeout: String) throws -> BackendTarget {
        let env = ProcessInfo.processInfo.environment
        if server != nil, state != nil {
            throw ValidationError("--server and --state exclude each other: leases live on a server or in a local file")
        }
        let url = server ?? (state == nil ? env["ONCEONLY_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } : nil)
        if let url {
            let source = server == nil ? "ONCEONLY_BASE_URL" : "--server"
            if let problem = RemoteBackend.problem(with: url) {
                throw ValidationError("\(source) \(url): \(problem)")
            }
            guard let key = env["ONCEONLY_API_KEY"], !key.isEmpty else {
                throw ValidationError("a server is set (\(url)) but ONCEONLY_API_KEY is not")
            }
            return .remote(url: url, apiKey: key)
        }
        guard let timeout = DurationText.parse(busyTimeout) else {
            throw ValidationError("--busy-timeout: cannot read \"\(busyTimeout)\" as a duration (e.g. 10s, 500ms)")
        }
        return .local(path: state, busyTimeout: timeout)
    }
}

/// A lease backend chosen but not opened yet (``BackendOptions/resolve(server:state:busyTimeout:)``).
enum BackendTarget {
    case remote(url: String, apiKey: String)
    /// `path` nil: the default store.
    case local(path: String?, busyTimeout: Duration)

    /// - Parameter reportBusy: a store locked while opening is reported here (exit 205); else
    ///   it is thrown as ``BusyStore`` for the caller to report.
    func open(exitCodes: ExitCodeMap, reportBusy: Bool) async throws -> any LeaseBackend {
        switch self {
        case .remote(let url, let key):
            do {
                return try RemoteBackend(baseURL: url, apiKey: key)
            } catch {
                throw ValidationError("cannot use server \(url): \(error)")
            }
        case .local(let state, let timeout):
            do throws(BackendError) {
                let path: String
                if let state { path = state } else { path = try LocalBackend.defaultPath() }
                return try await LocalBackend.open(path: path, busyTimeout: timeout)
            } catch {
                if case .busy = error {
                    guard reportBusy else { throw BusyStore(message: error.description) }
                    FileHandle.standardError.write(Data("once-exec: \(error.description)\n".utf8))
                    throw ExitCode(exitCodes.code(for: .busy))
                }
                // Not a usage error: say what failed in one line and exit with the internal code.
                FileHandle.standardError.write(Data("once-exec: \(error.description)\n".utf8))
                throw ExitCode(exitCodes.code(for: .internalError))
            }
        }
    }
}
