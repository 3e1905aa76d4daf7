import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Behaviours that once went wrong, each pinned by a test.
@Suite("once-exec regressions", .timeLimit(.minutes(5)))
struct OnceExecRegressionTests {
    @Test("a child outlives the runtime's idle worker threads (the parent-death signal must not fire)")
    func longChildIsNotKilled() async throws {
        let b = try await Backend(.local)
        let r = try await b.run(["--json", "long", "--", "sleep", "7"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary["child_signal"] == .null)
        #expect(try await b.status("long")["status"] == .string("completed"))
    }

    @Test("SIGTERM while waiting for a key stops the wait at once; the command never runs")
    func signalWhileWaiting() async throws {
        let b = try await Backend(.local)
        let up = b.sandbox.path("up")
        let go = b.sandbox.path("go")
        let holder = try b.start(["held", "--", "sh", "-c", "touch \(up); while [ ! -e \(go) ]; do sleep 0.05; done"])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        let marker = b.sandbox.path("ran")
        let waiter = try b.start(["-v", "--wait", "held", "--", "touch", marker])
        #expect(await eventually(.seconds(20)) { waiter.child.stderrSoFar.contains("waiting") })
        let sent = Date()
        waiter.signal(SIGTERM)
        let r = try await waiter.wait(timeout: 10)
        #expect(r.code == 128 + SIGTERM, "\(r.stderr)")
        // The holder never ends by itself, so an exit at all shows the signal ended the wait; the
        // bound only keeps "at once" honest on a loaded 2-core machine.
        #expect(Date().timeIntervalSince(sent) < 5)
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(try await holder.wait().code == 0)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a child killed by SIGINT (Ctrl-C reaches its group directly) leaves the key canceled, not failed")
    func keyboardInterrupt() async throws {
        let b = try await Backend(.local)
        let r = try await b.run(["ctrl-c", "--", "sh", "-c", "kill -INT $$"])
        #expect(r.code == 128 + SIGINT)
        #expect(try await b.status("ctrl-c")["status"] == .string("canceled"))
        #expect(try await b.run(["ctrl-c", "--", "true"]).code == 0, "an interrupted key may run again")
    }

    @Test("a full --capture of control characters still fits the run record", arguments: Mode.allCases)
    func captureOfControlBytes(mode: Mode) async throws {
        let b = try await Backend(mode)
        let r = try await b.run([
            "--capture", "65536", "noisy", "--", "sh", "-c", "head -c 200000 /dev/zero | tr '\\\\0' '\\\\001'",
        ])
        #expect(r.code == 0, "\(r.stderr)")
        let s = try await b.status("noisy")
        #expect(s["status"] == .string("completed"), "\(s)")
        #expect(s["run"]?["output_truncated"] == .bool(true))
    }

    @Test("a file that is not executable exits 126; a missing one 127")
    func notExecutable() async throws {
        let b = try await Backend(.local)
        let file = b.sandbox.path("plain.txt")
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let r = try await b.run(["noexec", "--", file])
        #expect(r.code == 126, "\(r.stderr)")
        #expect(try await b.run(["noexec", "--", b.sandbox.path("absent")]).code == 127)
        #expect(try await b.run(["--exit-code", "spawn=99", "noexec", "--", file]).code == 99)
    }

    @Test("--on-lease-lost warn lets the child finish, then exits with the lease-lost code")
    func warnOnLeaseLoss() async throws {
        let b = try await Backend(.remote)
        let up = b.sandbox.path("up")
        let w = try b.start([
            "--on-lease-lost", "warn", "--ttl", "3", "--kill-after", "0.5s", "warned", "--",
            "sh", "-c", "touch \(up); sleep 3; echo child-finished",
        ])
        #expect(await eventually(.seconds(20)) { FileManager.default.fileExists(atPath: up) })
        try await Task.sleep(for: .seconds(0.5))
        await b.stopServer(SIGKILL)
        let r = try await w.wait(timeout: 30)
        #expect(r.stdout == "child-finished\n")
        #expect(r.code == 202, "\(r.stderr)")
        #expect(r.stderr.contains("lease_lost"))
    }

    /// Runs `script` in a real terminal (tmux), types `keys`, returns the screen.
    /// With `readyFile`, keys are typed only once that file exists: on a loaded machine the
    /// command may start later than any fixed delay.
    func inTerminal(_ b: Backend, _ script: String, keys: [String], readyFile: String? = nil) async throws -> String {
        let socket = "once-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // tmux clients hand their stdio to the server, which may keep it: /dev/null for their
        // stdio, never a pipe we read to the end. Output comes back through a file instead.
        func tmux(_ args: [String]) async throws {
            try await runProcess("/usr/bin/tmux", ["-L", socket] + args, output: .discard, timeLimit: .seconds(30))
        }
        var env = ""
        for (k, v) in b.environment where k == "XDG_STATE_HOME" || k.hasPrefix("ONCEONLY_") { env += "\(k)='\(v)' " }
        // The trailing sleep keeps the screen readable; the session ends by itself soon after.
        try await tmux(["new-session", "-d", "-s", "t", "-x", "100", "-y", "10", "env \(env)\(script); sleep 8"])
        func screen() async throws -> String {
            try await Task.sleep(for: .seconds(1))
            if let readyFile {
                let deadline = ContinuousClock.now + .seconds(30)
                while access(readyFile, F_OK) != 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            for k in keys {
                try await tmux(["send-keys", "-t", "t", k])
                try await Task.sleep(for: .seconds(0.3))
            }
            try await Task.sleep(for: .seconds(1.5))
            let screen = b.sandbox.path("screen-\(socket)")
            try await tmux(["capture-pane", "-t", "t"])
            try await tmux(["save-buffer", screen])
            return b.sandbox.read("screen-\(socket)") ?? ""
        }
        let result: Result<String, any Error>
        do { result = .success(try await screen()) } catch { result = .failure(error) }
        try? await tmux(["kill-server"])
        unlink("/tmp/tmux-\(getuid())/\(socket)")
        return try result.get()
    }

    @Test("in a terminal the child can read it (no SIGTTIN hang), and Ctrl-C cancels the lease")
    func terminal() async throws {
        let b = try await Backend(.local)
        let exec = Binaries.onceExec
        let screen = try await inTerminal(
            b, "\(exec) tty -- sh -c 'read x; echo got-$x'; echo rc=$?", keys: ["hello", "Enter"])
        #expect(screen.contains("got-hello"), "\(screen)")
        #expect(screen.contains("rc=0"), "\(screen)")
        let up = b.sandbox.path("ctrl-c-up")
        let interrupted = try await inTerminal(
            b, "\(exec) ctrl-c -- sh -c 'touch \(up); exec sleep 30'; echo rc=$?", keys: ["C-c"], readyFile: up)
        #expect(interrupted.contains("rc=130"), "\(interrupted)")
        #expect(try await b.status("ctrl-c")["status"] == .string("canceled"))
    }

    @Test("backend options may come before the status and timeline subcommands")
    func optionsBeforeSubcommand() async throws {
        let b = try await Backend(.local)
        let state = b.sandbox.path("explicit.sqlite")
        #expect(try await b.run(["--state", state, "first", "--", "true"]).code == 0)
        let status = try await b.run(["--state", state, "status", "--json", "first"])
        #expect(status.code == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"status\":\"completed\""), "\(status.stdout)")
        #expect(
            try await b.run(["status", "first"]).stdout.contains("never run"), "the default state file is another store"
        )
    }
}
