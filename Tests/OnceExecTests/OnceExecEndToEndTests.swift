import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// once-exec driven as users drive it: the built binary, real child processes, real signals,
/// the local store and a real once-server on loopback.
@Suite("once-exec end to end", .timeLimit(.minutes(5)))
struct OnceExecEndToEndTests {
    @Test("exit codes 0, 1, 3 and SIGKILL pass through; the lease ends completed or failed", arguments: Mode.allCases)
    func exitCodes(mode: Mode) async throws {
        let b = try await Backend(mode)
        let cases: [(String, [String], Int32, String, String?)] = [
            ("zero", ["true"], 0, "completed", nil),
            ("one", ["sh", "-c", "exit 1"], 1, "failed", "exit_1"),
            ("three", ["sh", "-c", "exit 3"], 3, "failed", "exit_3"),
            ("killed", ["sh", "-c", "kill -9 $$"], 137, "failed", "signal_SIGKILL"),
        ]
        for (key, command, code, status, error) in cases {
            let r = try await b.run(["--json", key, "--"] + command)
            #expect(r.code == code, "\(key): \(r.stderr)")
            #expect(r.summary["outcome"] == .string("ran"))
            let s = try await b.status(key)
            #expect(s["status"] == .string(status), "\(key): \(s)")
            #expect(s["error_code"] == (error.map { .string($0) } ?? .null), "\(key)")
            #expect(s["run"]?["tool"] == .string("once-exec"), "the run record is stored as the result")
            #expect(s["run"]?["argv"] == .array(command.map { .string($0) }))
        }
        #expect(try await b.status("killed")["run"]?["signal"] == .string("SIGKILL"))
    }

    @Test("two wrappers started together on one key run the child exactly once", arguments: Mode.allCases)
    func exclusive(mode: Mode) async throws {
        let b = try await Backend(mode)
        let log = b.sandbox.path("ran.log")
        for round in 0..<3 {
            let key = "together-\(round)"
            let command = ["sh", "-c", "echo $ONCE_RUN_ID >> \(log); sleep 1"]
            let wrappers = try (0..<4).map { _ in try b.start(["--json", key, "--"] + command) }
            var results: [ProcessResult] = []
            for w in wrappers { results.append(try await w.wait()) }
            // One runs; the others find it held, or (a wrapper slow to start on a loaded
            // machine) already completed.
            let outcomes = results.map { $0.summary["outcome"]?.stringValue ?? "?" }
            #expect(outcomes.filter { $0 == "ran" }.count == 1, "\(outcomes) \(results.map(\.stderr))")
            #expect(outcomes.allSatisfy { ["ran", "held", "completed"].contains($0) }, "\(outcomes)")
        }
        #expect(b.sandbox.lines("ran.log").count == 3)
    }

    @Test(
        "the child sees ONCE_KEY, ONCE_RUN_ID, ONCE_LEASE_ID and ONCE_FENCE; fences increase", arguments: Mode.allCases)
    func environment(mode: Mode) async throws {
        let b = try await Backend(mode)
        let file = b.sandbox.path("env")
        let script = "echo \"$ONCE_KEY|$ONCE_RUN_ID|$ONCE_LEASE_ID|$ONCE_FENCE\" >> \(file); exit 1"
        _ = try await b.run(["--json", "envkey", "--", "sh", "-c", script])
        let second = try await b.run(["--json", "--retry-failed", "envkey", "--", "sh", "-c", script])
        let lines = b.sandbox.lines("env").map { $0.split(separator: "|").map(String.init) }
        try #require(lines.count == 2)
        #expect(lines[0][0] == "envkey")
        #expect(lines[0][1].hasPrefix("run_"))
        #expect(lines[0][2].hasPrefix("lease_"))
        #expect(second.summary["run_id"] == .string(lines[1][1]))
        let fences = lines.map { Int($0[3]) ?? 0 }
        #expect(fences[0] >= 1 && fences[1] > fences[0], "\(fences)")
    }

    @Test("a completed key is skipped with the stored result; --replay prints it", arguments: Mode.allCases)
    func completedIsSkipped(mode: Mode) async throws {
        let b = try await Backend(mode)
        let first = try await b.run([
            "--capture", "1000", "report", "--", "sh", "-c", "echo the-output; echo to-stderr >&2",
        ])
        #expect(first.code == 0)
        #expect(first.stdout == "the-output\n")
        #expect(first.stderr.contains("to-stderr"))
        let marker = b.sandbox.path("must-not-exist")
        let second = try await b.run(["--json", "report", "--", "touch", marker])
        #expect(second.code == 0)
        #expect(second.summary["outcome"] == .string("completed"))
        #expect(second.stderr.contains("already completed"), "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let replay = try await b.run(["--replay", "report", "--", "touch", marker])
        #expect(replay.code == 0)
        #expect(replay.stdout == "the-output\n")
        #expect(replay.stderr.contains("to-stderr"))
        let mapped = try await b.run(["--exit-code", "completed=9", "report", "--", "true"])
        #expect(mapped.code == 9)
    }

    @Test("a failed key is not retried unless --retry-failed", arguments: Mode.allCases)
    func failedKey(mode: Mode) async throws {
        let b = try await Backend(mode)
        #expect(try await b.run(["flaky", "--", "false"]).code == 1)
        let again = try await b.run(["flaky", "--", "true"])
        #expect(again.code == 201)
        #expect(again.stderr.contains("already failed"))
        #expect(try await b.run(["--retry-failed", "flaky", "--", "true"]).code == 0)
        #expect(try await b.status("flaky")["status"] == .string("completed"))
    }

    @Test("{date} keys run once per day across a simulated day change and follow --tz")
    func slotKeys() async throws {
        let b = try await Backend(.local)
        let log = b.sandbox.path("slots")
        func run(_ time: String, tz: String = "UTC") async throws -> Int32 {
            try await b.run([
                "--slot-time", time, "--tz", tz, "backup:{date}", "--", "sh", "-c", "echo $ONCE_KEY >> \(log)",
            ])
            .code
        }
        #expect(try await run("2026-11-29T23:59:00Z") == 0)
        #expect(try await run("2026-11-29T00:00:01Z") == 0, "same day: skipped (exit 0)")
        #expect(try await run("2026-11-30T00:00:01Z") == 0)
        #expect(try await run("2026-11-29T23:30:00Z", tz: "Europe/Berlin") == 0, "already 30 Nov in Berlin: skipped")
        #expect(b.sandbox.lines("slots") == ["backup:2026-11-29", "backup:2026-11-30"])
        let bad = try await b.run(["backup:{day}", "--", "true"])
        #expect(bad.code == 64)
        #expect(bad.stderr.contains("unknown placeholder {day}"))
    }

    @Test("SIGTERM to the wrapper reaches a grandchild; the lease ends canceled, never held", arguments: Mode.allCases)
    func sigtermReachesGrandchild(mode: Mode) async throws {
        let b = try await Backend(mode)
        let pidFile = b.sandbox.path("grandchild.pid")
        let w = try b.start(["graceful", "--", "sh", "-c", "sleep 100 & echo $! > \(pidFile); wait"])
        // The whole line: the file exists a moment before the shell has written to it.
        #expect(await eventually(.seconds(10)) { b.sandbox.read("grandchild.pid")?.hasSuffix("\n") == true })
        let grandchild = try #require(
            pid_t(b.sandbox.read("grandchild.pid")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        #expect(isAlive(grandchild))
        w.signal(SIGTERM)
        let r = try await w.wait(timeout: 10)
        #expect(r.code == 128 + SIGTERM, "\(r.stderr)")
        #expect(await eventually(.seconds(2)) { !isAlive(grandchild) }, "the grandchild must not survive")
        let s = try await b.status("graceful")
        #expect(s["status"] == .string("canceled") || s["status"] == .string("failed"), "\(s)")
        // Canceled frees the key: the next run goes ahead.
        #expect(try await b.run(["graceful", "--", "true"]).code == 0)
    }

    @Test("kill -9 of the wrapper kills the child within a second", arguments: Mode.allCases)
    func wrapperKilled(mode: Mode) async throws {
        let b = try await Backend(mode)
        let pidFile = b.sandbox.path("child.pid")
        let w = try b.start(["orphan", "--", "sh", "-c", "echo $$ > \(pidFile); exec sleep 100"])
        // The whole line: the file exists a moment before the shell has written to it.
        #expect(await eventually(.seconds(10)) { b.sandbox.read("child.pid")?.hasSuffix("\n") == true })
        let child = try #require(
            pid_t(b.sandbox.read("child.pid")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        #expect(isAlive(child))
        w.signal(SIGKILL)
        _ = try await w.wait(timeout: 5)
        #expect(await eventually(.seconds(1)) { !isAlive(child) }, "child \(child) outlived its wrapper")
    }

    @Test("the server stopped mid-run: the child is stopped before the server-side expiry; exit lease-lost")
    func serverStopped() async throws {
        let b = try await Backend(.remote)
        let termFile = b.sandbox.path("got-term")
        let up = b.sandbox.path("up")
        let w = try b.start([
            // A long --kill-after: the child exits at SIGTERM, and the lease outlives it by about 6 s,
            // time for a restart and a status read on a loaded machine.
            "--ttl", "12", "--kill-after", "5s", "outage", "--",
            "sh", "-c", "trap 'echo term > \(termFile); exit 143' TERM; touch \(up); sleep 60 & wait",
        ])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        try await Task.sleep(for: .seconds(4.5))  // at least one renewal (every 4 s) has gone through
        await b.stopServer(SIGKILL)
        let r = try await w.wait(timeout: 20)
        #expect(r.code == 202, "\(r.stderr)")
        #expect(b.sandbox.read("got-term") == "term\n", "the child got SIGTERM")
        // Back up at once: the lease must still be live on the server, so the child was
        // stopped before anyone else could have been given the key.
        try await b.startServer()
        let s = try await b.status("outage")
        #expect(s["status"] == .string("in_progress"), "\(s)")
        #expect(r.stderr.contains("lease_lost"))
    }

    @Test("a wrapper paused with SIGSTOP past its deadline stops its child on resume")
    func pausedWrapper() async throws {
        let b = try await Backend(.remote)
        let termFile = b.sandbox.path("got-term")
        let upFile = b.sandbox.path("up")
        let w = try b.start([
            "--json", "--ttl", "3", "--kill-after", "0.5s", "paused", "--",
            "sh", "-c", "trap 'echo term > \(termFile); exit 143' TERM; touch \(upFile); sleep 60 & wait",
        ])
        // Paused once the child runs (a loaded machine may take a while to get there).
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: upFile) })
        w.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(4.5))
        let resumed = Date()
        w.signal(SIGCONT)
        let r = try await w.wait(timeout: 20)
        #expect(r.code == 202, "\(r.stderr)")
        #expect(b.sandbox.read("got-term") == "term\n")
        #expect(Date().timeIntervalSince(resumed) < 15, "stopped on resuming, long before the child (60 s) would end")
        let runId = try #require(r.summary["run_id"]?.stringValue)
        let timeline = try await b.run(["timeline", "--json", runId])
        let events = (try? JSONDecoder().decode(JSONValue.self, from: Data(timeline.stdout.utf8)))?["events"]
        guard case .array(let list)? = events else { Issue.record("no timeline: \(timeline.stdout)"); return }
        let types = list.compactMap { $0["type"]?.stringValue }
        let lost = try #require(types.firstIndex(of: "lease_lost"), "\(types)")
        #expect(!types[lost...].contains("renewed_late"), "no renewal was confirmed after the deadline: \(types)")
        // The finish was refused, so it wrote none of the events it carried: they were posted
        // after it (the fallback a server without run_events gets too).
        #expect(types.contains("child_exited"), "\(types)")
        #expect(types.last == "run_record", "\(types)")
    }

    @Test("--max-runtime stops the child and fails the lease with its own code", arguments: Mode.allCases)
    func maxRuntime(mode: Mode) async throws {
        let b = try await Backend(mode)
        let started = Date()
        let r = try await b.run(["--max-runtime", "1s", "--kill-after", "1s", "slow", "--", "sleep", "30"])
        #expect(r.code == 204, "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 25, "stopped long before the child (30 s) would end")
        let s = try await b.status("slow")
        #expect(s["status"] == .string("failed"))
        #expect(s["error_code"] == .string("max_runtime"))
    }

    @Test("--wait runs after the holder finishes; --join adopts its outcome", arguments: Mode.allCases)
    func waitAndJoin(mode: Mode) async throws {
        let b = try await Backend(mode)
        // The holder fails with 5 once the test creates `go`.
        let up = b.sandbox.path("up")
        let go = b.sandbox.path("go")
        let holder = try b.start([
            "--capture", "100", "shared", "--", "sh", "-c",
            "touch \(up); while [ ! -e \(go) ]; do sleep 0.05; done; echo from-holder; exit 5",
        ])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        let noWait = try await b.run(["shared", "--", "true"])
        #expect(noWait.code == 200)
        let joiner = try b.start(["-v", "--wait", "--join", "shared", "--", "true"])
        let waiter = try b.start(["-v", "--wait", "20s", "shared", "--", "true"])
        #expect(await eventually(.seconds(20)) { joiner.child.stderrSoFar.contains("waiting") })
        #expect(await eventually(.seconds(20)) { waiter.child.stderrSoFar.contains("waiting") })
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(try await holder.wait().code == 5)
        let joined = try await joiner.wait()
        #expect(joined.code == 5, "joined the holder's outcome: \(joined.stderr)")
        #expect(joined.stdout == "from-holder\n")
        let waited = try await waiter.wait()
        #expect(waited.code == 201, "the key failed meanwhile: \(waited.stderr)")
        let busyUp = b.sandbox.path("busy-up")
        let busyGo = b.sandbox.path("busy-go")
        let timedOut = try b.start([
            "busy", "--", "sh", "-c", "touch \(busyUp); while [ ! -e \(busyGo) ]; do sleep 0.05; done",
        ])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: busyUp) })
        let gaveUp = try await b.run(["--wait", "0.5s", "busy", "--", "true"])
        #expect(gaveUp.code == 200)
        _ = FileManager.default.createFile(atPath: busyGo, contents: nil)
        #expect(try await timedOut.wait().code == 0)
    }

    @Test("--if-unreachable fail, skip and run")
    func unreachable() async throws {
        let b = try await Backend(.remote)
        await b.stopServer(SIGKILL)
        let marker = b.sandbox.path("ran")
        let fail = try await b.run(["k", "--", "touch", marker])
        #expect(fail.code == 203, "\(fail.stderr)")
        #expect(fail.stderr.contains("unreachable"))
        let skip = try await b.run(["--if-unreachable", "skip", "k", "--", "touch", marker])
        #expect(skip.code == 0)
        #expect(!FileManager.default.fileExists(atPath: marker))
        let run = try await b.run([
            "--if-unreachable", "run", "k", "--", "sh", "-c", "echo \"[$ONCE_FENCE]\" > \(marker)",
        ])
        #expect(run.code == 0)
        #expect(b.sandbox.read("ran") == "[]\n", "no lease, so no fence")
        let mapped = try await b.run(["--exit-code", "unreachable=75", "k", "--", "true"])
        #expect(mapped.code == 75)
    }

    @Test("usage errors exit 64; a missing command exits 127 and leaves the key untouched")
    func usageAndSpawn() async throws {
        let b = try await Backend(.local)
        #expect(try await b.run(["key-only"]).code == 64)
        #expect(try await b.run(["--ttl", "0", "k", "--", "true"]).code == 64)
        #expect(try await b.run(["--wait", "k3", "--", "true"]).code == 0, "a bare --wait before KEY")
        #expect(try await b.run(["--wait", "soon", "k4", "--", "true"]).code == 64, "an extra word is a usage error")
        let missing = try await b.run(["k2", "--", "no-such-command-anywhere"])
        #expect(missing.code == 127)
        #expect(missing.stderr.contains("command not found"))
        #expect(try await b.status("k2")["status"] == .string("absent"))
        #expect(try await b.run(["status", "k2"]).stdout.contains("never run"))
    }

    @Test("stdin and stdout pass through untouched")
    func passThrough() async throws {
        let b = try await Backend(.local)
        let r = try await b.run(
            ["pipe2", "--", "sh", "-c", "read line; echo got:$line"], stdin: Data("hello\n".utf8))
        #expect(r.stdout == "got:hello\n")
        #expect(r.code == 0)
    }
}
