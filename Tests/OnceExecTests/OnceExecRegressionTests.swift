import Foundation
import OnceCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Behaviours that once went wrong, each pinned by a test.
@Suite("once-exec regressions", .serialized)
struct OnceExecRegressionTests {
    @Test("a child outlives the runtime's idle worker threads (the parent-death signal must not fire)")
    func longChildIsNotKilled() throws {
        let b = try Backend(.local)
        let r = try b.run(["--json", "long", "--", "sleep", "7"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary["child_signal"] == .null)
        #expect(try b.status("long")["status"] == .string("completed"))
    }

    @Test("SIGTERM while waiting for a key stops the wait at once; the command never runs")
    func signalWhileWaiting() throws {
        let b = try Backend(.local)
        let holder = try b.start(["held", "--", "sleep", "3"])
        Thread.sleep(forTimeInterval: 0.3)
        let marker = b.sandbox.path("ran")
        let waiter = try b.start(["--wait", "held", "--", "touch", marker])
        Thread.sleep(forTimeInterval: 0.5)
        let sent = Date()
        waiter.signal(SIGTERM)
        let r = waiter.wait(timeout: 10)
        #expect(r.code == 128 + SIGTERM, "\(r.stderr)")
        #expect(Date().timeIntervalSince(sent) < 1.5)
        #expect(holder.wait().code == 0)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a child killed by SIGINT (Ctrl-C reaches its group directly) leaves the key canceled, not failed")
    func keyboardInterrupt() throws {
        let b = try Backend(.local)
        let r = try b.run(["ctrl-c", "--", "sh", "-c", "kill -INT $$"])
        #expect(r.code == 128 + SIGINT)
        #expect(try b.status("ctrl-c")["status"] == .string("canceled"))
        #expect(try b.run(["ctrl-c", "--", "true"]).code == 0, "an interrupted key may run again")
    }

    @Test("a full --capture of control characters still fits the run record", arguments: Mode.allCases)
    func captureOfControlBytes(mode: Mode) throws {
        let b = try Backend(mode)
        let r = try b.run([
            "--capture", "65536", "noisy", "--", "sh", "-c", "head -c 200000 /dev/zero | tr '\\\\0' '\\\\001'",
        ])
        #expect(r.code == 0, "\(r.stderr)")
        let s = try b.status("noisy")
        #expect(s["status"] == .string("completed"), "\(s)")
        #expect(s["run"]?["output_truncated"] == .bool(true))
    }

    @Test("a file that is not executable exits 126; a missing one 127")
    func notExecutable() throws {
        let b = try Backend(.local)
        let file = b.sandbox.path("plain.txt")
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let r = try b.run(["noexec", "--", file])
        #expect(r.code == 126, "\(r.stderr)")
        #expect(try b.run(["noexec", "--", b.sandbox.path("absent")]).code == 127)
        #expect(try b.run(["--exit-code", "spawn=99", "noexec", "--", file]).code == 99)
    }

    @Test("--on-lease-lost warn lets the child finish, then exits with the lease-lost code")
    func warnOnLeaseLoss() throws {
        let b = try Backend(.remote)
        let w = try b.start([
            "--on-lease-lost", "warn", "--ttl", "3", "--kill-after", "0.5s", "warned", "--",
            "sh", "-c", "sleep 3; echo child-finished",
        ])
        Thread.sleep(forTimeInterval: 1.2)
        b.stopServer(SIGKILL)
        let r = w.wait(timeout: 30)
        #expect(r.stdout == "child-finished\n")
        #expect(r.code == 202, "\(r.stderr)")
        #expect(r.stderr.contains("lease_lost"))
    }

    /// Runs `script` in a real terminal (tmux), types `keys`, returns the screen.
    func inTerminal(_ b: Backend, _ script: String, keys: [String]) throws -> String {
        let socket = "once-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // tmux clients hand their stdio to the server, which may keep it: never give them a
        // pipe we read to the end. Output comes back through a file instead.
        func tmux(_ args: [String]) throws {
            // posix_spawn with /dev/null for stdio and a plain waitpid: the client's daemonised
            // server must hold none of our pipes.
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            for fd: Int32 in [0, 1, 2] {
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            }
            let argv = (["/usr/bin/tmux", "-L", socket] + args).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid = pid_t()
            guard posix_spawn(&pid, "/usr/bin/tmux", &actions, nil, argv, environ) == 0 else {
                throw HarnessError.serverDidNotStart("tmux could not start")
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        }
        var env = ""
        for (k, v) in b.environment where k == "XDG_STATE_HOME" || k.hasPrefix("ONCEONLY_") { env += "\(k)='\(v)' " }
        // The trailing sleep keeps the screen readable; the session ends by itself soon after.
        try tmux(["new-session", "-d", "-s", "t", "-x", "100", "-y", "10", "env \(env)\(script); sleep 8"])
        defer {
            try? tmux(["kill-server"])
            unlink("/tmp/tmux-\(getuid())/\(socket)")
        }
        Thread.sleep(forTimeInterval: 1)
        for k in keys {
            try tmux(["send-keys", "-t", "t", k])
            Thread.sleep(forTimeInterval: 0.3)
        }
        Thread.sleep(forTimeInterval: 1.5)
        let screen = b.sandbox.path("screen-\(socket)")
        try tmux(["capture-pane", "-t", "t"])
        try tmux(["save-buffer", screen])
        return b.sandbox.read("screen-\(socket)") ?? ""
    }

    @Test("in a terminal the child can read it (no SIGTTIN hang), and Ctrl-C cancels the lease")
    func terminal() throws {
        let b = try Backend(.local)
        let exec = Binaries.onceExec
        let screen = try inTerminal(
            b, "\(exec) tty -- sh -c 'read x; echo got-$x'; echo rc=$?", keys: ["hello", "Enter"])
        #expect(screen.contains("got-hello"), "\(screen)")
        #expect(screen.contains("rc=0"), "\(screen)")
        let interrupted = try inTerminal(b, "\(exec) ctrl-c -- sleep 30; echo rc=$?", keys: ["C-c"])
        #expect(interrupted.contains("rc=130"), "\(interrupted)")
        #expect(try b.status("ctrl-c")["status"] == .string("canceled"))
    }

    @Test("backend options may come before the status and timeline subcommands")
    func optionsBeforeSubcommand() throws {
        let b = try Backend(.local)
        let state = b.sandbox.path("explicit.sqlite")
        #expect(try b.run(["--state", state, "first", "--", "true"]).code == 0)
        let status = try b.run(["--state", state, "status", "--json", "first"])
        #expect(status.code == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"status\":\"completed\""), "\(status.stdout)")
        #expect(try b.run(["status", "first"]).stdout.contains("never run"), "the default state file is another store")
    }
}
