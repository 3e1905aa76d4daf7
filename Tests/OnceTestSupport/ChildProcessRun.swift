import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started by a test, observed without blocking any thread of the cooperative
/// pool: its pipes are drained by reader threads of their own, its exit is polled with
/// `waitpid(WNOHANG)` between `Task.sleep`s, and every wait is an `await` with a time limit.
public final class ChildProcessRun: Sendable {
    /// What to do with the child's stdout and stderr.
    public enum Output: Sendable {
        /// Collect into the result.
        case capture
        /// /dev/null: for clients that hand their stdio to a daemon (tmux), which may keep it.
        case discard
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public let what: String
        public let limit: Duration
        public let stdout: String
        public let stderr: String
        public var description: String {
            "\(what) did not exit within \(limit) and was killed; stdout: \(stdout.debugDescription); "
                + "stderr: \(stderr.debugDescription)"
        }
    }

    private struct State {
        var stdout = Data()
        var stderr = Data()
        var openStreams = 0
        var status: Int32?
        var signaled = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0

        var finished: Bool { status != nil && openStreams == 0 }
    }

    /// The state the pipe readers, the termination handler and the waiters share.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let name: String
    public let pid: pid_t

    public struct SpawnFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `executable` with `arguments`; `stdin` nil means /dev/null. The child gets the
    /// default action for every signal and an empty signal mask, whatever the test runner set.
    ///
    /// posix_spawn, not Foundation's `Process`: its exit is learnt by `waitpid(WNOHANG)` on
    /// this pid alone (see ``reap()``), with nothing else in the process reaping it.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Data? = nil,
        output: Output = .capture
    ) throws {
        name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
        // Under the spawn lock, pipe(2) then FD_CLOEXEC cannot race another test's spawn: a
        // long-lived server that inherited this pipe's write end would hold back its EOF.
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw SpawnFailed(description: "pipe: \(errno)") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return (fds[0], fds[1])
        }
        let spawnLock = Self.spawnLock
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = []  // the child's ends, closed here once it started
        var readers: [(fd: Int32, isStdout: Bool)] = []
        var input: (read: Int32, write: Int32)?
        if stdin != nil {
            let p = try makePipe()
            input = p
            posix_spawn_file_actions_adddup2(&actions, p.read, 0)
            parentEnds.append(p.read)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        switch output {
        case .capture:
            let out = try makePipe()
            let err = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, out.write, 1)
            posix_spawn_file_actions_adddup2(&actions, err.write, 2)
            parentEnds += [out.write, err.write]
            readers = [(out.read, true), (err.read, false)]
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // And nothing another part of the test process left inheritable reaches the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, env)
        parentEnds.forEach { close($0) }
        guard rc == 0 else {
            readers.forEach { close($0.0) }
            if let input { close(input.write) }
            throw SpawnFailed(description: "\(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        shared.state.withLock { $0.openStreams = readers.count }
        let shared = self.shared
        for (fd, isStdout) in readers {
            // A blocking read loop on a thread of its own, not a dispatch read source: tearing
            // read sources down races libdispatch's epoll bookkeeping on Linux and crashed the
            // test process in `_dispatch_event_loop_drain` (swiftlang/sourcekit-lsp#2717 and
            // swift-tools-protocols#73 hit the same). A plain read registers nothing with
            // dispatch, and end of file ends the loop; no pool thread ever waits here.
            let reader = Thread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { break }
                    shared.state.withLock { s in
                        if isStdout {
                            s.stdout.append(contentsOf: buffer[0..<n])
                        } else {
                            s.stderr.append(contentsOf: buffer[0..<n])
                        }
                    }
                }
                close(fd)
                Self.settle(shared) { $0.openStreams -= 1 }
            }
            reader.name = "once-tests.child-output"
            reader.start()
        }
        if let input, let stdin {
            // A writer queue of its own: a full pipe may make this write wait, never a pool thread.
            let writer = FileHandle(fileDescriptor: input.write, closeOnDealloc: true)
            DispatchQueue(label: "once-tests.child-input").async {
                try? writer.write(contentsOf: stdin)
                try? writer.close()
            }
        }
    }

    /// Serialises pipe creation and spawning across all children of the test process.
    private static let spawnLock = NSLock()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not declare (it needs _GNU_SOURCE).
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }()

    /// Collects the exit status if the child has exited: `waitpid(WNOHANG)`, which never waits.
    private func reap() {
        let done: Bool = shared.state.withLock { s in
            guard s.status == nil else { return false }
            var raw: Int32 = 0
            let r = waitpid(pid, &raw, WNOHANG)
            guard r == pid else { return false }
            // WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift cannot import as macros.
            let signal = raw & 0x7f
            if signal != 0 && signal != 0x7f {
                s.status = signal
                s.signaled = true
            } else {
                s.status = (raw >> 8) & 0xff
            }
            return true
        }
        if done { Self.settle(shared) { _ in } }
    }

    private static func settle(_ shared: Shared, _ change: (inout State) -> Void) {
        let ready: [CheckedContinuation<Void, Never>] = shared.state.withLock { s in
            change(&s)
            guard s.finished else { return [] }
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        ready.forEach { $0.resume() }
    }

    deinit {
        reap()
        if shared.state.withLock({ $0.status == nil }) {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, WNOHANG)
        }
    }

    public var isRunning: Bool {
        reap()
        return shared.state.withLock { $0.status == nil }
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// What the child wrote so far.
    public var stdoutSoFar: String { String(decoding: shared.state.withLock { $0.stdout }, as: UTF8.self) }
    public var stderrSoFar: String { String(decoding: shared.state.withLock { $0.stderr }, as: UTF8.self) }

    /// Waits for the exit and the end of both streams; after `timeLimit` the child gets SIGKILL
    /// and this throws ``TimedOut``, naming the command and what it printed.
    @discardableResult
    public func wait(timeLimit: Duration = .seconds(60)) async throws -> ProcessResult {
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.finished()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeLimit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if !first { self.signal(SIGKILL) }
            return first
        }
        if !finished {
            // Killed: the exit comes at once, but a grandchild may still hold a pipe.
            _ = await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.finished() }
                group.addTask { try? await Task.sleep(for: .seconds(2)) }
                await group.next()
                group.cancelAll()
            }
            let r = result
            let (exited, open) = shared.state.withLock { ($0.status != nil, $0.openStreams) }
            throw TimedOut(
                what: name + " [exited: \(exited), open streams: \(open)]", limit: timeLimit, stdout: r.stdout,
                stderr: r.stderr)
        }
        return result
    }

    /// Waits until the child exited, without waiting for its streams (a daemon may hold them).
    public func exited(timeLimit: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeLimit)
        while isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !isRunning
    }

    /// Waits until the collected stdout matches `pattern` (a regular expression); returns the match.
    public func waitForStdout(matching pattern: String, timeLimit: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now.advanced(by: timeLimit)
        while true {
            let text = stdoutSoFar
            if let r = text.range(of: pattern, options: .regularExpression) { return String(text[r]) }
            if !isRunning || ContinuousClock.now >= deadline {
                throw TimedOut(what: name + " (waiting for \(pattern))", limit: timeLimit, stdout: text, stderr: "")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Returns when the child has exited and both streams ended, or at once when cancelled.
    /// The exit is polled (every 5 ms, sleeping); the end of the streams is signalled.
    private func finished() async {
        while isRunning {
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return }
        }
        let id = shared.state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now: Bool = shared.state.withLock { s in
                    if s.finished || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            shared.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    private var result: ProcessResult {
        shared.state.withLock { s in
            ProcessResult(
                code: s.status.map { s.signaled ? 128 + $0 : $0 } ?? -1, stdoutData: s.stdout, stderrData: s.stderr)
        }
    }
}

/// How a finished child ended and what it printed.
public struct ProcessResult: Sendable {
    /// The exit code, or 128+N for death by signal N (as a shell reports it).
    public let code: Int32
    public let stdoutData: Data
    public let stderrData: Data

    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var stderr: String { String(decoding: stderrData, as: UTF8.self) }
}

/// Runs a command to its end; throws when it does not end within `timeLimit`.
@discardableResult
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Data? = nil,
    output: ChildProcessRun.Output = .capture, timeLimit: Duration = .seconds(60)
) async throws -> ProcessResult {
    try await ChildProcessRun(executable, arguments, environment: environment, stdin: stdin, output: output)
        .wait(timeLimit: timeLimit)
}
