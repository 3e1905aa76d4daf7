import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The traps of the field trial at 146fdf9 (issue 8), each driven through the real binary.
@Suite("once-exec field trial", .timeLimit(.minutes(5)))
struct FieldTrialTests {
    // MARK: 1. server URLs

    @Test("a wrong server path is a refusal naming the URL and status (78), never 'held'")
    func wrongServerPath() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let marker = b.sandbox.path("ran")
        let wrong = server.baseURL + "/api"
        let r = try await b.run(["--server", wrong, "w4", "--", "touch", marker])
        #expect(r.code == 78, "\(r.stderr)")
        #expect(r.stderr.contains("HTTP 404"), "\(r.stderr)")
        #expect(r.stderr.contains(wrong), "\(r.stderr)")
        #expect(!r.stderr.contains("held"), "\(r.stderr)")
        // The README's fleet recipe must not turn it into a silent success.
        let fleet = try await b.run(["-q", "--exit-code", "held=0", "--server", wrong, "w4", "--", "touch", marker])
        #expect(fleet.code == 78, "\(fleet.stderr)")
        let waited = try await b.run(["--wait", "3s", "--server", wrong, "w4", "--", "touch", marker])
        #expect(waited.code == 78)
        let status = try await b.run(["status", "--server", wrong, "w4"])
        #expect(status.code == 78, "\(status.stdout) \(status.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a server URL without a scheme, or with an unknown one, is a usage error even with --if-unreachable run")
    func badServerURL() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let marker = b.sandbox.path("ran")
        for url in ["127.0.0.1:\(server.port)", "ftp://127.0.0.1:\(server.port)", "http://"] {
            let r = try await b.run(["--if-unreachable", "run", "--server", url, "k", "--", "touch", marker])
            #expect(r.code == 64, "\(url): \(r.stderr)")
            #expect(r.stderr.contains(url), "\(url): \(r.stderr)")
        }
        let env = try await b.run(
            ["--if-unreachable", "run", "k", "--", "touch", marker],
            extraEnvironment: ["ONCEONLY_BASE_URL": "localhost"])
        #expect(env.code == 64, "\(env.stderr)")
        #expect(env.stderr.contains("ONCEONLY_BASE_URL"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("an explicit --state wins over ONCEONLY_BASE_URL; --state with --server is a usage error")
    func stateBeatsEnvironment() async throws {
        let b = try await Backend(.remote)
        let server = try #require(b.server)
        let state = b.sandbox.path("explicit.sqlite")
        #expect(try await b.run(["--state", state, "local-one", "--", "true"]).code == 0)
        #expect(FileManager.default.fileExists(atPath: state), "the local file was used")
        let onServer = try await b.status("local-one")
        #expect(onServer["status"] == .string("absent"), "the server never saw it: \(onServer)")
        let both = try await b.run(["--server", server.baseURL, "--state", state, "k", "--", "true"])
        #expect(both.code == 64)
        #expect(both.stderr.contains("--server and --state"))
    }

    // MARK: 2. SIGKILL of once-exec

    @Test("kill -9 of once-exec kills COMMAND's whole process group, grandchildren included", arguments: Mode.allCases)
    func sigkillKillsTheGroup(mode: Mode) async throws {
        let b = try await Backend(mode)
        let pidFile = b.sandbox.path("grandchild.pid")
        let w = try b.start(["orphans", "--", "sh", "-c", "sleep 100 & echo $! > \(pidFile); wait"])
        #expect(await eventually(.seconds(10)) { b.sandbox.read("grandchild.pid")?.hasSuffix("\n") == true })
        let grandchild = try #require(
            pid_t(b.sandbox.read("grandchild.pid")!.trimmingCharacters(in: .whitespacesAndNewlines)))
        let startTime = processStartTime(grandchild)
        #expect(isAlive(grandchild, startedAt: startTime))
        w.signal(SIGKILL)
        _ = try? await w.wait(timeout: 10)
        let gone = await eventually(.seconds(2)) { !isAlive(grandchild, startedAt: startTime) }
        if !gone { kill(grandchild, SIGKILL) }
        #expect(gone, "grandchild \(grandchild) outlived a SIGKILLed once-exec")
    }

    @Test("after a normal exit, a helper COMMAND left in its group lives on (the guard is dismissed)")
    func helperSurvivesNormalExit() async throws {
        let b = try await Backend(.local)
        let pidFile = b.sandbox.path("helper.pid")
        let r = try await b.run(["helper", "--", "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $! > \(pidFile)"])
        #expect(r.code == 0, "\(r.stderr)")
        let helper = try #require(
            pid_t(b.sandbox.read("helper.pid")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        try await Task.sleep(for: .milliseconds(500))
        #expect(isAlive(helper), "documented: a background helper outlives the run")
        kill(helper, SIGKILL)
    }

    // MARK: 6. durations

    @Test("--max-runtime 0 means no limit; --heartbeat 0 and bad durations are usage errors about the duration")
    func durations() async throws {
        let b = try await Backend(.local)
        let zero = try await b.run(["--max-runtime", "0", "mr0", "--", "sleep", "0.3"])
        #expect(zero.code == 0, "\(zero.stderr)")
        #expect(try await b.status("mr0")["status"] == .string("completed"))
        let cases: [([String], String)] = [
            (["--heartbeat", "0"], "--heartbeat"),
            (["--heartbeat", "1ms"], "--heartbeat"),
            (["--wait", "5x"], "\"5x\""),
            (["--wait", "1h30"], "\"1h30\""),
            (["--max-runtime", "-5"], "\"-5\""),
            (["--kill-after", "-1s"], "\"-1s\""),
        ]
        for (flags, needle) in cases {
            let r = try await b.run(flags + ["k2", "--", "true"])
            #expect(r.code == 64, "\(flags): \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(flags): \(r.stderr)")
            #expect(!r.stderr.contains("k2"), "\(flags) must not be blamed on KEY: \(r.stderr)")
        }
        #expect(try await b.status("k2")["status"] == .string("absent"))
    }

    // MARK: 7. the default store

    @Test("the default store follows XDG_STATE_HOME (absolute only), then HOME; errors are one line")
    func defaultStore() async throws {
        let b = try await Backend(.local)
        let home = b.sandbox.path("home")
        var env = b.environment
        env.removeValue(forKey: "XDG_STATE_HOME")
        env["HOME"] = home
        func run(_ extra: [String: String], _ key: String) async throws -> ProcessResult {
            try await runProcess(
                Binaries.onceExec, [key, "--", "true"], environment: env.merging(extra) { $1 }, timeLimit: .seconds(60))
        }
        #expect(try await run([:], "h1").code == 0)
        #expect(FileManager.default.fileExists(atPath: home + "/.local/state/once/once-exec.sqlite"), "HOME is used")
        let relative = try await run(["XDG_STATE_HOME": "relative/dir"], "h2")
        #expect(relative.code == 0)
        #expect(!FileManager.default.fileExists(atPath: "relative/dir"), "a relative XDG_STATE_HOME is ignored")
        let xdg = b.sandbox.path("xdg")
        #expect(try await run(["XDG_STATE_HOME": xdg], "h3").code == 0)
        #expect(FileManager.default.fileExists(atPath: xdg + "/once/once-exec.sqlite"))
        let bad = try await run(["HOME": "/proc/self/no-such-home"], "h4")
        #expect(bad.code == 206, "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "one line: \(bad.stderr)")
        #expect(bad.stderr.contains("/proc/self/no-such-home"), "\(bad.stderr)")
        #expect(!bad.stderr.contains("Domain"), "no Foundation dump: \(bad.stderr)")
        #expect(!bad.stderr.contains("SQLite error"), "\(bad.stderr)")
    }

    // MARK: 10. papercuts

    @Test("--help shows the run options; a missing -- gets a hint; --heartbeat is blamed for itself")
    func papercuts() async throws {
        let b = try await Backend(.local)
        let help = try await b.run(["--help"])
        #expect(help.code == 0)
        for option in ["--max-runtime", "--retry-failed", "--wait", "--capture", "runs"] {
            #expect(help.stdout.contains(option), "\(option) missing from --help")
        }
        #expect(!help.stdout.contains("the outcome:\n"), "no hard wrap in mid-sentence")
        let noDashes = try await b.run(["k1", "echo", "hi"])
        #expect(noDashes.code == 64)
        #expect(noDashes.stderr.contains("missing --"), "\(noDashes.stderr)")
        let heartbeat = try await b.run(["--heartbeat", "100", "k", "--", "true"])
        #expect(heartbeat.code == 64)
        #expect(heartbeat.stderr.contains("--heartbeat 100"), "\(heartbeat.stderr)")
    }

    @Test("status calls an expired lease 'expired', and the next run goes ahead without --retry-failed")
    func expiredStatus() async throws {
        let b = try await Backend(.local)
        let up = b.sandbox.path("up")
        let w = try b.start(["--ttl", "3", "--kill-after", "0.5s", "exp", "--", "sh", "-c", "touch \(up); sleep 30"])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        w.signal(SIGKILL)
        _ = try? await w.wait(timeout: 10)
        try await Task.sleep(for: .seconds(3.5))
        let human = try await b.run(["status", "exp"])
        #expect(human.stdout.contains("exp: expired"), "\(human.stdout)")
        #expect(try await b.status("exp")["status"] == .string("expired"))
        #expect(try await b.run(["exp", "--", "true"]).code == 0)
    }

    // MARK: 3. --wait --join --retry-failed

    @Test(
        "waiting callers of a failing run take its failure; --retry-failed covers earlier failures only",
        arguments: Mode.allCases)
    func waitersJoinTheFailure(mode: Mode) async throws {
        let b = try await Backend(mode)
        let log = b.sandbox.path("ran.log")
        let go = b.sandbox.path("go")
        let args = ["-v", "--wait", "30s", "--join", "--retry-failed", "--capture", "100", "deploy", "--"]
        let command = [
            "sh", "-c",
            "echo $ONCE_RUN_ID >> \(log); echo deploying; while [ ! -e \(go) ]; do sleep 0.05; done; exit 7",
        ]
        let first = try b.start(args + command)
        #expect(await eventually(.seconds(20)) { b.sandbox.read("ran.log") != nil })
        let others = try (0..<3).map { _ in try b.start(args + command) }
        for w in others { #expect(await eventually(.seconds(20)) { w.child.stderrSoFar.contains("waiting") }) }
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        var codes = [try await first.wait().code]
        for w in others {
            let r = try await w.wait()
            codes.append(r.code)
            #expect(r.stdout == "deploying\n", "the joiner got the run's output")
        }
        #expect(codes == [7, 7, 7, 7], "\(codes)")
        #expect(b.sandbox.lines("ran.log").count == 1, "one deploy, not one per caller")
        // Started after the failure was recorded: --retry-failed runs it again.
        let retry = try await b.run(args + ["sh", "-c", "echo $ONCE_RUN_ID >> \(log); exit 0"])
        #expect(retry.code == 0, "\(retry.stderr)")
        #expect(b.sandbox.lines("ran.log").count == 2)
    }

    // MARK: 8. runs

    @Test("runs lists every attempt with its outcome; filters; status shows the tails; messages name key and run")
    func runsAfterANight() async throws {
        let b = try await Backend(.local)
        #expect(try await b.run(["--capture", "200", "backup:00", "--", "sh", "-c", "echo saved"]).code == 0)
        #expect(
            try await b.run(["--capture", "200", "backup:01", "--", "sh", "-c", "echo disk full >&2; exit 3"]).code == 3
        )
        #expect(try await b.run(["import:01", "--", "false"]).code == 1)
        #expect(try await b.run(["--retry-failed", "import:01", "--", "true"]).code == 0)
        let timeout = try await b.run([
            "--max-runtime", "0.5s", "--kill-after", "0.5s", "batch:01", "--", "sleep", "30",
        ])
        #expect(timeout.code == 204)
        #expect(timeout.stderr.contains("batch:01 (run run_"), "\(timeout.stderr)")
        let up = b.sandbox.path("up")
        let canceled = try b.start(["report:01", "--", "sh", "-c", "touch \(up); sleep 30"])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        canceled.signal(SIGTERM)
        let c = try await canceled.wait(timeout: 20)
        #expect(c.code == 143)
        #expect(c.stderr.contains("report:01 (run run_"), "\(c.stderr)")

        let all = try await b.run(["runs", "--json"])
        #expect(all.code == 0, "\(all.stderr)")
        guard case .array(let runs)? = all.json["runs"] else {
            Issue.record("no runs: \(all.stdout)")
            return
        }
        let seen = runs.map { "\($0["key"]?.stringValue ?? "?")=\($0["outcome"]?.stringValue ?? "?")" }
        #expect(
            seen == [
                "report:01=canceled", "batch:01=timeout", "import:01=completed", "import:01=failed", "backup:01=failed",
                "backup:00=completed",
            ], "\(seen)")
        let failed = try await b.run(["runs", "--failed", "--since", "24h", "--json"])
        let failedKeys = (failed.json["runs"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }
        #expect(failedKeys == ["report:01", "batch:01", "import:01", "backup:01"], "\(failed.stdout)")
        let imports = try await b.run(["history", "--key", "import:", "--json"])
        #expect(imports.json["runs"]?.arrayValue?.count == 2, "\(imports.stdout)")
        let limited = try await b.run(["runs", "--limit", "2", "--json"])
        #expect(limited.json["runs"]?.arrayValue?.count == 2)
        let human = try await b.run(["runs", "--failed"])
        #expect(human.stdout.contains("OUTCOME"), "\(human.stdout)")
        #expect(human.stdout.contains("timeout"), "\(human.stdout)")
        let status = try await b.run(["status", "backup:01"])
        #expect(status.stdout.contains("| disk full"), "the human status shows the stderr tail: \(status.stdout)")
    }

    @Test("runs on a server: every attempt, through GET /v1/runs")
    func runsOnAServer() async throws {
        let b = try await Backend(.remote)
        #expect(try await b.run(["nightly", "--", "false"]).code == 1)
        #expect(try await b.run(["--retry-failed", "nightly", "--", "true"]).code == 0)
        let r = try await b.run(["runs", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let outcomes = (r.json["runs"]?.arrayValue ?? []).compactMap { $0["outcome"]?.stringValue }
        #expect(outcomes == ["completed", "failed"], "\(r.stdout)")
        let failed = try await b.run(["runs", "--failed", "--json"])
        #expect(failed.json["runs"]?.arrayValue?.first?["exit_code"] == .int(1), "\(failed.stdout)")
    }

    // MARK: 4. daylight saving

    @Test("an hourly key in Berlin's repeated hour names two instants; both hours run")
    func fallBack() async throws {
        let b = try await Backend(.local)
        let log = b.sandbox.path("hours")
        for time in ["2026-10-25T00:15:00Z", "2026-10-25T01:15:00Z", "2026-10-25T02:15:00Z"] {
            let r = try await b.run([
                "--tz", "Europe/Berlin", "--slot-time", time, "hourly:{hour}", "--", "sh", "-c",
                "echo $ONCE_KEY >> \(log)",
            ])
            #expect(r.code == 0, "\(time): \(r.stderr)")
        }
        #expect(
            b.sandbox.lines("hours") == [
                "hourly:2026-10-25T02+02:00", "hourly:2026-10-25T02+01:00", "hourly:2026-10-25T03",
            ])
    }

    // MARK: 9. --capture

    @Test("with --capture, stdout and stderr sharing one file keep their order")
    func captureKeepsOrder() async throws {
        let b = try await Backend(.local)
        let log = b.sandbox.path("mail")
        let script = "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3; echo err3 >&2"
        let r = try await runProcess(
            "/bin/sh", ["-c", "exec '\(Binaries.onceExec)' --capture 1000 order -- sh -c '\(script)' > \(log) 2>&1"],
            environment: b.environment)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(b.sandbox.lines("mail") == ["out1", "err1", "out2", "err2", "out3", "err3"])
    }

    @Test("--replay of output that is not UTF-8 is byte-exact", arguments: Mode.allCases)
    func byteExactReplay(mode: Mode) async throws {
        let b = try await Backend(mode)
        let bytes: [UInt8] = [0xFF, 0xFE, 0x61, 0x62, 0x63, 0x00, 0x64, 0x65, 0x66, 0x0A]
        let first = try await b.run(["--capture", "100", "binary", "--", "printf", "\\377\\376abc\\0def\\n"])
        #expect(first.code == 0, "\(first.stderr)")
        #expect(Array(first.stdoutData) == bytes, "passed through as is")
        let replay = try await b.run(["--replay", "binary", "--", "true"])
        #expect(Array(replay.stdoutData) == bytes, "\(Array(replay.stdoutData))")
    }

    @Test("with --capture, a closed downstream (| head) stops the child as it would without once-exec")
    func closedDownstream() async throws {
        let b = try await Backend(.local)
        let r = try await runProcess(
            "/bin/sh", ["-c", "'\(Binaries.onceExec)' --capture 100 piped -- seq 1 100000000 | head -1"],
            environment: b.environment, timeLimit: .seconds(60))
        #expect(r.stdout == "1\n")
        let s = try await b.status("piped")
        #expect(s["error_code"] == .string("signal_SIGPIPE"), "the child got SIGPIPE: \(s)")
    }

    @Test("with --capture, a background helper that keeps stdout neither delays the exit nor dies of SIGPIPE")
    func backgroundHelper() async throws {
        let b = try await Backend(.local)
        let marker = b.sandbox.path("helper-done")
        let started = ContinuousClock.now
        let w = try b.start([
            "--capture", "100", "helper", "--", "sh", "-c",
            "echo start; (sleep 8; echo late-stdout; echo ok > \(marker)) &",
        ])
        #expect(await w.child.exited(timeLimit: .seconds(20)))
        let took = started.duration(to: .now)
        #expect(!FileManager.default.fileExists(atPath: marker), "once-exec did not wait for the helper (\(took))")
        let r = try await w.wait(timeout: 30)  // the end of stdout: when the helper is done
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout == "start\nlate-stdout\n", "the helper's output still arrives")
        #expect(b.sandbox.read("helper-done") == "ok\n", "the helper was not killed by SIGPIPE")
        #expect(try await b.status("helper")["run"]?["stdout_tail"] == .string("start\n"))
    }
}
