import OnceExec
import Testing

/// The start-up fast path's reader: each normalised command line with what it must read, or
/// nil where argument-parser must read it instead (its messages and usage lines).
@Suite("RunArgumentsParser")
struct RunArgumentsParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: [String]
        let expected: RunArguments?
        var testDescription: String { line.joined(separator: " ") }
    }

    static func args(
        _ key: String, _ command: [String] = ["/bin/true"], _ edit: (inout RunArguments) -> Void = { _ in }
    )
        -> RunArguments
    {
        var a = RunArguments(key: key, command: command)
        edit(&a)
        return a
    }

    static let read: [Case] = [
        Case(line: ["run", "k", "--", "/bin/true"], expected: args("k")),
        Case(line: ["run", "k", "--", "echo", "--json", "-q"], expected: args("k", ["echo", "--json", "-q"])),
        Case(line: ["run", "k", "--"], expected: args("k", [])),
        Case(
            line: ["run", "--ttl", "30", "--wait=forever", "--join", "k", "--", "/bin/true"],
            expected: args("k") {
                $0.ttl = 30
                $0.wait = "forever"
                $0.join = true
            }),
        Case(
            line: ["run", "--state", "/tmp/s.sqlite", "-q", "-v", "--json", "k", "--", "/bin/true"],
            expected: args("k") {
                $0.state = "/tmp/s.sqlite"
                $0.quiet = true
                $0.verbose = true
                $0.json = true
            }),
        Case(
            line: ["run", "k", "--server=http://127.0.0.1:1", "--retry-failed", "--replay", "--", "/bin/true"],
            expected: args("k") {
                $0.server = "http://127.0.0.1:1"
                $0.retryFailed = true
                $0.replay = true
            }),
        Case(
            line: [
                "run", "--exit-code", "held=1", "--exit-code=busy=3", "--on-lease-lost", "warn", "--if-unreachable=run",
                "k", "--", "/bin/true",
            ],
            expected: args("k") {
                $0.exitCodes = ["held=1", "busy=3"]
                $0.onLeaseLost = .warn
                $0.ifUnreachable = .run
            }),
        Case(
            line: [
                "run", "--heartbeat", "2s", "--kill-after", "1s", "--max-runtime", "5m", "--capture", "4096",
                "--shell", "--pass-api-key", "--tz", "Europe/Paris", "--slot-time", "2026-11-29T02:00:00Z",
                "--busy-timeout", "500ms", "k:{date}", "--", "echo", "hi",
            ],
            expected: args("k:{date}", ["echo", "hi"]) {
                $0.heartbeat = "2s"
                $0.killAfter = "1s"
                $0.maxRuntime = "5m"
                $0.capture = 4096
                $0.shell = true
                $0.passApiKey = true
                $0.tz = "Europe/Paris"
                $0.slotTime = "2026-11-29T02:00:00Z"
                $0.busyTimeout = "500ms"
            }),
        // A value is taken as given; whether it checks is makeOptions()'s to say.
        Case(line: ["run", "--ttl=-5", "k", "--", "x"], expected: args("k", ["x"]) { $0.ttl = -5 }),
    ]

    static let leftToArgumentParser: [[String]] = [
        ["k", "--", "/bin/true"],  // not normalised
        ["run", "k"],  // no --
        ["run", "--", "/bin/true"],  // no KEY
        ["run", "a", "b", "--", "/bin/true"],  // a second positional
        ["run", "--help", "k", "--", "x"],
        ["run", "-h", "k", "--", "x"],
        ["run", "--version", "k", "--", "x"],
        ["run", "--nope", "k", "--", "x"],
        ["run", "-qv", "k", "--", "x"],  // grouped short flags
        ["run", "--ttl", "k", "--", "x"],  // KEY taken as the value, then no KEY
        ["run", "k", "--ttl", "--", "x"],  // a value missing before --
        ["run", "--ttl", "-5", "k", "--", "x"],  // a value that looks like an option
        ["run", "--ttl", "ten", "k", "--", "x"],
        ["run", "--capture=1k", "k", "--", "x"],
        ["run", "--on-lease-lost", "panic", "k", "--", "x"],
        ["run", "--if-unreachable", "maybe", "k", "--", "x"],
        ["run", "--json=yes", "k", "--", "x"],  // a flag given a value
        ["run", "--ttl", "5", "--ttl", "6", "k", "--", "x"],  // a repeated single option
        ["run", "-q", "--quiet", "k", "--", "x"],  // the same flag twice, by both names
        ["run", "-", "k", "--", "x"],
    ]

    @Test(arguments: read)
    func reads(_ c: Case) {
        #expect(RunArgumentsParser.parse(c.line) == c.expected)
    }

    @Test(arguments: leftToArgumentParser)
    func leaves(_ line: [String]) {
        #expect(RunArgumentsParser.parse(line) == nil)
    }

    /// The checks are the ones the argument-parser path runs (``RunArguments/makeOptions()``).
    @Test func checksComeAfterReading() throws {
        let bad = try #require(RunArgumentsParser.parse(["run", "--ttl=0", "k", "--", "x"]))
        #expect(throws: RunArguments.Invalid("--ttl must be 1-2592000 seconds")) { try bad.makeOptions() }
        let noCommand = try #require(RunArgumentsParser.parse(["run", "k", "--"]))
        #expect(throws: RunArguments.Invalid("missing COMMAND: use once-exec KEY -- COMMAND [ARG...]")) {
            try noCommand.makeOptions()
        }
        let options = try #require(RunArgumentsParser.parse(["run", "--wait", "5s", "k", "--", "x"])).makeOptions()
        #expect(options.wait == .seconds(5))
        #expect(options.key == "k")
        #expect(options.command == ["x"])
    }
}
