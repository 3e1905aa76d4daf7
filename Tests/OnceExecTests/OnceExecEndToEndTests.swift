import Foundation
import OnceCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// once-exec driven as users drive it: the built binary, real child processes, real signals,
/// the local store and a real once-server on loopback.
@Suite("once-exec end to end", .serialized)
struct OnceExecEndToEndTests {
    @Test("exit codes 0, 1, 3 and SIGKILL pass through; the lease ends completed or failed", arguments: Mode.allCases)
    func exitCodes(mode: Mode) throws {
        let b = try Backend(mode)
        let cases: [(String, [String], Int32, String, String?)] = [
            ("zero", ["true"], 0, "completed", nil),
            ("one", ["sh", "-c", "exit 1"], 1, "failed", "exit_1"),
            ("three", ["sh", "-c", "exit 3"], 3, "failed", "exit_3"),
            ("killed", ["sh", "-c", "kill -9 $$"], 137, "failed", "signal_SIGKILL"),
        ]
        for (key, command, code, status, error) in cases {
            let r = try b.run(["--json", key, "--"] + command)
            #expect(r.code == code, "\(key): \(r.stderr)")
            #expect(r.summary["outcome"] == .string("ran"))
            let s = try b.status(key)
            #expect(s["status"] == .string(status), "\(key): \(s)")
            #expect(s["error_code"] == (error.map { .string($0) } ?? .null), "\(key)")
            #expect(s["run"]?["tool"] == .string("once-exec"), "the run record is stored as the result")
            #expect(s["run"]?["argv"] == .array(command.map { .string($0) }))
        }
        #expect(try b.status("killed")["run"]?["signal"] == .string("SIGKILL"))
    }

    @Test("two wrappers started together on one key run the child exactly once", arguments: Mode.allCases)
    func exclusive(mode: Mode) throws {
        let b = try Backend(mode)
        let log = b.sandbox.path("ran.log")
        for round in 0..<3 {
            let key = "together-\(round)"
            let command = ["sh", "-c", "echo $ONCE_RUN_ID >> \(log); sleep 1"]
            let wrappers = try (0..<4).map { _ in try b.start([key, "--"] + command) }
            let results = wrappers.map { $0.wait() }
            #expect(results.filter { $0.code == 0 }.count == 1, "\(results.map(\.code))")
            #expect(results.filter { $0.code == 200 }.count == 3, "\(results.map(\.code)) \(results.map(\.stderr))")
        }
        #expect(b.sandbox.lines("ran.log").count == 3)
    }

    @Test(
        "the child sees ONCE_KEY, ONCE_RUN_ID, ONCE_LEASE_ID and ONCE_FENCE; fences increase", arguments: Mode.allCases)
    func environment(mode: Mode) throws {
        let b = try Backend(mode)
        let file = b.sandbox.path("env")
        let script = "echo \"$ONCE_KEY|$ONCE_RUN_ID|$ONCE_LEASE_ID|$ONCE_FENCE\" >> \(file); exit 1"
        _ = try b.run(["--json", "envkey", "--", "sh", "-c", script])
        let second = try b.run(["--json", "--retry-failed", "envkey", "--", "sh", "-c", script])
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
    func completedIsSkipped(mode: Mode) throws {
        let b = try Backend(mode)
        let first = try b.run(["--capture", "1000", "report", "--", "sh", "-c", "echo the-output; echo to-stderr >&2"])
        #expect(first.code == 0)
        #expect(first.stdout == "the-output\n")
        #expect(first.stderr.contains("to-stderr"))
        let marker = b.sandbox.path("must-not-exist")
        let second = try b.run(["--json", "report", "--", "touch", marker])
        #expect(second.code == 0)
        #expect(second.summary["outcome"] == .string("completed"))
        #expect(second.stderr.contains("already completed"), "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let replay = try b.run(["--replay", "report", "--", "touch", marker])
        #expect(replay.code == 0)
        #expect(replay.stdout == "the-output\n")
        #expect(replay.stderr.contains("to-stderr"))
        let mapped = try b.run(["--exit-code", "completed=9", "report", "--", "true"])
        #expect(mapped.code == 9)
    }

    @Test("a failed key is not retried unless --retry-failed", arguments: Mode.allCases)
    func failedKey(mode: Mode) throws {
        let b = try Backend(mode)
        #expect(try b.run(["flaky", "--", "false"]).code == 1)
        let again = try b.run(["flaky", "--", "true"])
        #expect(again.code == 201)
        #expect(again.stderr.contains("already failed"))
        #expect(try b.run(["--retry-failed", "flaky", "--", "true"]).code == 0)
        #expect(try b.status("flaky")["status"] == .string("completed"))
    }

    @Test("{date} keys run once per day across a simulated day change and follow --tz")
    func slotKeys() throws {
        let b = try Backend(.local)
        let log = b.sandbox.path("slots")
        func run(_ time: String, tz: String = "UTC") throws -> Int32 {
            try b.run(["--slot-time", time, "--tz", tz, "backup:{date}", "--", "sh", "-c", "echo $ONCE_KEY >> \(log)"])
                .code
        }
        #expect(try run("2026-11-29T23:59:00Z") == 0)
        #expect(try run("2026-11-29T00:00:01Z") == 0, "same day: skipped (exit 0)")
        #expect(try run("2026-11-30T00:00:01Z") == 0)
        #expect(try run("2026-11-29T23:30:00Z", tz: "Europe/Berlin") == 0, "already 30 Nov in Berlin: skipped")
        #expect(b.sandbox.lines("slots") == ["backup:2026-11-29", "backup:2026-11-30"])
        let bad = try b.run(["backup:{day}", "--", "true"])
        #expect(bad.code == 64)
        #expect(bad.stderr.contains("unknown placeholder {day}"))
    }

    @Test("SIGTERM to the wrapper reaches a grandchild; the lease ends canceled, never held", arguments: Mode.allCases)
    func sigtermReachesGrandchild(mode: Mode) throws {
        let b = try Backend(mode)
        let pidFile = b.sandbox.path("grandchild.pid")
        let w = try b.start(["graceful", "--", "sh", "-c", "sleep 100 & echo $! > \(pidFile); wait"])
        #expect(waitUntil(10) { b.sandbox.read("grandchild.pid") != nil })
        let grandchild = pid_t(b.sandbox.read("grandchild.pid")!.trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(isAlive(grandchild))
        w.signal(SIGTERM)
        let r = w.wait(timeout: 10)
        #expect(r.code == 128 + SIGTERM, "\(r.stderr)")
        #expect(waitUntil(2) { !isAlive(grandchild) }, "the grandchild must not survive")
        let s = try b.status("graceful")
        #expect(s["status"] == .string("canceled") || s["status"] == .string("failed"), "\(s)")
        // Canceled frees the key: the next run goes ahead.
        #expect(try b.run(["graceful", "--", "true"]).code == 0)
    }

    @Test("kill -9 of the wrapper kills the child within a second", arguments: Mode.allCases)
    func wrapperKilled(mode: Mode) throws {
        let b = try Backend(mode)
        let pidFile = b.sandbox.path("child.pid")
        let w = try b.start(["orphan", "--", "sh", "-c", "echo $$ > \(pidFile); exec sleep 100"])
        #expect(waitUntil(10) { b.sandbox.read("child.pid") != nil })
        let child = pid_t(b.sandbox.read("child.pid")!.trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(isAlive(child))
        w.signal(SIGKILL)
        _ = w.wait(timeout: 5)
        #expect(waitUntil(1) { !isAlive(child) }, "child \(child) outlived its wrapper")
    }

    @Test("the server stopped mid-run: the child is stopped before the server-side expiry; exit lease-lost")
    func serverStopped() throws {
        let b = try Backend(.remote)
        let termFile = b.sandbox.path("got-term")
        let w = try b.start([
            "--ttl", "6", "--kill-after", "1s", "outage", "--",
            "sh", "-c", "trap 'echo term > \(termFile); exit 143' TERM; sleep 60 & wait",
        ])
        Thread.sleep(forTimeInterval: 2.5)  // at least one renewal (every 2 s) has gone through
        b.stopServer(SIGKILL)
        let r = w.wait(timeout: 20)
        #expect(r.code == 202, "\(r.stderr)")
        #expect(b.sandbox.read("got-term") == "term\n", "the child got SIGTERM")
        // Back up at once: the lease must still be live on the server, so the child was
        // stopped before anyone else could have been given the key.
        try b.startServer()
        let s = try b.status("outage")
        #expect(s["status"] == .string("in_progress"), "\(s)")
        #expect(r.stderr.contains("lease_lost"))
    }

    @Test("a wrapper paused with SIGSTOP past its deadline stops its child on resume")
    func pausedWrapper() throws {
        let b = try Backend(.remote)
        let termFile = b.sandbox.path("got-term")
        let w = try b.start([
            "--json", "--ttl", "3", "--kill-after", "0.5s", "paused", "--",
            "sh", "-c", "trap 'echo term > \(termFile); exit 143' TERM; sleep 60 & wait",
        ])
        Thread.sleep(forTimeInterval: 0.5)
        w.signal(SIGSTOP)
        Thread.sleep(forTimeInterval: 4.5)
        let resumed = Date()
        w.signal(SIGCONT)
        let r = w.wait(timeout: 20)
        #expect(r.code == 202, "\(r.stderr)")
        #expect(b.sandbox.read("got-term") == "term\n")
        #expect(Date().timeIntervalSince(resumed) < 3, "stopped promptly after resuming")
        let runId = try #require(r.summary["run_id"]?.stringValue)
        let timeline = try b.run(["timeline", "--json", runId])
        let events = (try? JSONDecoder().decode(JSONValue.self, from: Data(timeline.stdout.utf8)))?["events"]
        guard case .array(let list)? = events else { Issue.record("no timeline: \(timeline.stdout)"); return }
        let types = list.compactMap { $0["type"]?.stringValue }
        let lost = try #require(types.firstIndex(of: "lease_lost"), "\(types)")
        #expect(!types[lost...].contains("renewed_late"), "no renewal was confirmed after the deadline: \(types)")
    }

    @Test("--max-runtime stops the child and fails the lease with its own code", arguments: Mode.allCases)
    func maxRuntime(mode: Mode) throws {
        let b = try Backend(mode)
        let started = Date()
        let r = try b.run(["--max-runtime", "1s", "--kill-after", "1s", "slow", "--", "sleep", "30"])
        #expect(r.code == 204, "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)
        let s = try b.status("slow")
        #expect(s["status"] == .string("failed"))
        #expect(s["error_code"] == .string("max_runtime"))
    }

    @Test("--wait runs after the holder finishes; --join adopts its outcome", arguments: Mode.allCases)
    func waitAndJoin(mode: Mode) throws {
        let b = try Backend(mode)
        // The holder fails with 5 after a second.
        let holder = try b.start(["--capture", "100", "shared", "--", "sh", "-c", "sleep 1; echo from-holder; exit 5"])
        Thread.sleep(forTimeInterval: 0.3)
        let noWait = try b.run(["shared", "--", "true"])
        #expect(noWait.code == 200)
        let joiner = try b.start(["--wait", "--join", "shared", "--", "true"])
        let waiter = try b.start(["--wait", "20s", "shared", "--", "true"])
        #expect(holder.wait().code == 5)
        let joined = joiner.wait()
        #expect(joined.code == 5, "joined the holder's outcome: \(joined.stderr)")
        #expect(joined.stdout == "from-holder\n")
        let waited = waiter.wait()
        #expect(waited.code == 201, "the key failed meanwhile: \(waited.stderr)")
        let timedOut = try b.start(["busy", "--", "sleep", "3"])
        Thread.sleep(forTimeInterval: 0.3)
        let gaveUp = try b.run(["--wait", "0.5s", "busy", "--", "true"])
        #expect(gaveUp.code == 200)
        #expect(timedOut.wait().code == 0)
    }

    @Test("--if-unreachable fail, skip and run")
    func unreachable() throws {
        let b = try Backend(.remote)
        b.stopServer(SIGKILL)
        let marker = b.sandbox.path("ran")
        let fail = try b.run(["k", "--", "touch", marker])
        #expect(fail.code == 203, "\(fail.stderr)")
        #expect(fail.stderr.contains("unreachable"))
        let skip = try b.run(["--if-unreachable", "skip", "k", "--", "touch", marker])
        #expect(skip.code == 0)
        #expect(!FileManager.default.fileExists(atPath: marker))
        let run = try b.run(["--if-unreachable", "run", "k", "--", "sh", "-c", "echo \"[$ONCE_FENCE]\" > \(marker)"])
        #expect(run.code == 0)
        #expect(b.sandbox.read("ran") == "[]\n", "no lease, so no fence")
        let mapped = try b.run(["--exit-code", "unreachable=75", "k", "--", "true"])
        #expect(mapped.code == 75)
    }

    @Test("usage errors exit 64; a missing command exits 127 and leaves the key untouched")
    func usageAndSpawn() throws {
        let b = try Backend(.local)
        #expect(try b.run(["key-only"]).code == 64)
        #expect(try b.run(["--ttl", "0", "k", "--", "true"]).code == 64)
        #expect(try b.run(["--wait", "k3", "--", "true"]).code == 0, "a bare --wait before KEY")
        #expect(try b.run(["--wait", "soon", "k4", "--", "true"]).code == 64, "an extra word is a usage error")
        let missing = try b.run(["k2", "--", "no-such-command-anywhere"])
        #expect(missing.code == 127)
        #expect(missing.stderr.contains("command not found"))
        #expect(try b.status("k2")["status"] == .string("absent"))
        #expect(try b.run(["status", "k2"]).stdout.contains("never run"))
    }

    @Test("stdin and stdout pass through untouched")
    func passThrough() throws {
        let b = try Backend(.local)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binaries.onceExec)
        p.arguments = ["pipe2", "--", "sh", "-c", "read line; echo got:$line"]
        p.environment = b.environment
        let input = Pipe()
        let output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data("hello\n".utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(String(decoding: data, as: UTF8.self) == "got:hello\n")
        #expect(p.terminationStatus == 0)
    }
}
