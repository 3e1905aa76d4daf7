import Foundation
import OnceCore
import OnceExec
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The correctness fixes of issue 9's review: a busy store, the API key, completions.
@Suite("once-exec review fixes", .timeLimit(.minutes(5)))
struct ReviewFixTests {
    /// Holds the write lock of a SQLite file from another process (Python's sqlite3, a real
    /// second writer) until `release()`.
    struct Locker {
        let run: ChildProcessRun
        let go: String

        init(database: String, sandbox: Sandbox) async throws {
            let ready = sandbox.path("locker-ready")
            go = sandbox.path("locker-go")
            let script = """
                import os, sqlite3, sys, time
                c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
                c.execute("BEGIN IMMEDIATE")
                open(sys.argv[2], "w").close()
                while not os.path.exists(sys.argv[3]):
                    time.sleep(0.02)
                c.execute("ROLLBACK")
                """
            run = try ChildProcessRun("/usr/bin/env", ["python3", "-c", script, database, ready, go])
            #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: ready) })
        }

        func release() async throws {
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            #expect(try await run.wait().code == 0)
        }
    }

    @Test("a local store locked past --busy-timeout exits 205 and never runs COMMAND, even with --if-unreachable run")
    func busyStore() async throws {
        let b = try await Backend(.local)
        #expect(try await b.run(["warm", "--", "true"]).code == 0, "creates the store")
        let locker = try await Locker(database: b.sandbox.path("state/once/once-exec.sqlite"), sandbox: b.sandbox)
        let marker = b.sandbox.path("ran")
        for policy in ["fail", "skip", "run"] {
            let r = try await b.run([
                "--busy-timeout", "300ms", "--if-unreachable", policy, "k", "--", "touch", marker,
            ])
            #expect(r.code == 205, "--if-unreachable \(policy): \(r.stderr)")
            #expect(r.stderr.contains("busy"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
        let mapped = try await b.run(["--busy-timeout", "300ms", "--exit-code", "busy=9", "k", "--", "touch", marker])
        #expect(mapped.code == 9, "\(mapped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "COMMAND never ran without its lease")
        let json = try await b.run(["--busy-timeout", "300ms", "--json", "k", "--", "touch", marker])
        #expect(json.summary["outcome"] == .string("busy"), "\(json.stdout)")
        try await locker.release()
        #expect(try await b.run(["k", "--", "touch", marker]).code == 0)
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(try await b.run(["--busy-timeout", "5x", "k", "--", "true"]).code == 64)
    }

    @Test("eight wrappers started together on a new store file: one runs, none fails to open it")
    func newStoreRace() async throws {
        let b = try await Backend(.local)
        for round in 0..<4 {
            // A new file each round: creating it (WAL switch, tables) is the race.
            let state = b.sandbox.path("new-\(round)/once.sqlite")
            let log = b.sandbox.path("ran-\(round).log")
            let wrappers = try (0..<8).map { _ in
                try b.start(["--state", state, "--json", "k", "--", "sh", "-c", "echo x >> \(log); sleep 0.5"])
            }
            var outcomes: [String] = []
            var errors: [String] = []
            for w in wrappers {
                let r = try await w.wait()
                outcomes.append(r.summary["outcome"]?.stringValue ?? "?")
                errors.append(r.stderr)
            }
            #expect(outcomes.allSatisfy { ["ran", "held", "completed"].contains($0) }, "\(outcomes) \(errors)")
            #expect(b.sandbox.lines("ran-\(round).log").count == 1, "\(outcomes)")
        }
    }

    @Test("a store that opened but then stays locked is busy at the acquire: --if-unreachable run does not run")
    @MainActor
    func busyAtAcquire() async throws {
        let b = try await Backend(.local)
        let path = b.sandbox.path("state/once/once-exec.sqlite")
        #expect(try await b.run(["warm", "--", "true"]).code == 0, "creates the store")
        let backend = try await LocalBackend.open(path: path, busyTimeout: .milliseconds(300))
        let locker = try await Locker(database: path, sandbox: b.sandbox)
        await #expect(throws: BackendError.busy(LocalBackend.busyMessage(path, .milliseconds(300)))) {
            _ = try await backend.acquire(key: "k", ttl: 60, runId: "run_x", retryFailed: false, holder: .none)
        }
        let marker = b.sandbox.path("ran")
        var options = ExecOptions(key: "k", command: ["touch", marker])
        options.ifUnreachable = .run
        let summary = await Runner(options: options, backend: backend, relay: SignalRelay()).run()
        #expect(summary.outcome == .busy)
        #expect(summary.exitCode == 205)
        #expect(!FileManager.default.fileExists(atPath: marker))
        try await locker.release()
        let after = try await backend.acquire(key: "k", ttl: 60, runId: "run_y", retryFailed: false, holder: .none)
        guard case .acquired = after else {
            Issue.record("the released store grants the lease: \(after)")
            return
        }
    }

    @Test("COMMAND does not see ONCEONLY_API_KEY unless --pass-api-key", arguments: Mode.allCases)
    func apiKeyStaysWithTheWrapper(mode: Mode) async throws {
        let b = try await Backend(mode)
        let secret = b.server?.key ?? "once_test_secret"
        let extra = mode == .local ? ["ONCEONLY_API_KEY": secret] : [:]
        let out = b.sandbox.path("env")
        let probe = "printf '[%s]' \"${ONCEONLY_API_KEY-unset}\" > \(out)"
        let plain = try await b.run(["a1", "--", "sh", "-c", probe], extraEnvironment: extra)
        #expect(plain.code == 0, "\(plain.stderr)")
        #expect(b.sandbox.read("env") == "[unset]")
        let passed = try await b.run(["--pass-api-key", "a2", "--", "sh", "-c", probe], extraEnvironment: extra)
        #expect(passed.code == 0, "\(passed.stderr)")
        #expect(b.sandbox.read("env") == "[\(secret)]")
    }

    @Test("--version is answered before argument parsing, with the same text as the parser's")
    func version() async throws {
        let fast = try await runProcess(Binaries.onceExec, ["--version"])
        let parsed = try await runProcess(Binaries.onceExec, ["run", "--version"])
        #expect(fast.code == 0 && parsed.code == 0)
        #expect(fast.stdout == "0.1.0\n")
        #expect(fast.stdout == parsed.stdout)
    }

    /// Completes `words` with the generated bash script, as bash's programmable completion would.
    func bashComplete(_ script: String, _ words: [String], sandbox: Sandbox) async throws -> [String] {
        let file = sandbox.path("completion.bash")
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let quoted = words.map { "'\($0)'" }.joined(separator: " ")
        let driver = """
            source \(file)
            COMP_WORDS=(\(quoted)); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _once-exec once-exec "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let r = try await runProcess("/bin/bash", ["-c", driver])
        #expect(r.code == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test("bash completion offers the run options without an explicit run, and the committed scripts are current")
    func completions() async throws {
        let sandbox = try Sandbox()
        let bash = try await runProcess(Binaries.onceExec, ["--generate-completion-script", "bash"])
        #expect(bash.code == 0)
        #expect(!bash.stdout.contains("patch did not apply"))
        let bare = try await bashComplete(bash.stdout, ["once-exec", "--wa"], sandbox: sandbox)
        #expect(bare.contains("--wait"), "\(bare)")
        let explicit = try await bashComplete(bash.stdout, ["once-exec", "run", "--wa"], sandbox: sandbox)
        #expect(explicit.contains("--wait"), "\(explicit)")
        let afterOption = try await bashComplete(
            bash.stdout, ["once-exec", "--ttl", "30", "--if-unreachable", ""], sandbox: sandbox)
        #expect(Set(afterOption) == ["fail", "skip", "run"], "\(afterOption)")
        let first = try await bashComplete(bash.stdout, ["once-exec", "st"], sandbox: sandbox)
        #expect(first.contains("status"), "\(first)")
        let status = try await bashComplete(bash.stdout, ["once-exec", "status", "--"], sandbox: sandbox)
        #expect(!status.contains("--wait"), "status has no --wait: \(status)")

        // The shipped files are what the binary generates.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for shell in ["bash", "zsh", "fish"] {
            let generated = try await runProcess(Binaries.onceExec, ["--generate-completion-script", shell])
            #expect(!generated.stdout.contains("patch did not apply"), "\(shell)")
            let committed = try String(
                contentsOf: root.appendingPathComponent("completions/once-exec.\(shell)"), encoding: .utf8)
            #expect(committed == generated.stdout, "completions/once-exec.\(shell) is out of date: regenerate it")
        }
    }
}
