import COnceSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The supervised command: leader of its own process group, with the terminal, if any,
/// handed to that group while it runs.
package final class ChildProcess: Sendable {
    package let pid: pid_t

    package enum SpawnError: Error, Equatable, CustomStringConvertible {
        case notFound(String)
        case notExecutable(String, String)
        case failed(String, String)

        package var description: String {
            switch self {
            case .notFound(let c): "\(c): command not found"
            case .notExecutable(let c, let why): "\(c): cannot execute: \(why)"
            case .failed(let c, let why): "\(c): cannot start: \(why)"
            }
        }
    }

    /// Finds `command` as a shell would: a name with a slash is a path, anything else is
    /// looked up in `PATH`.
    package static func resolve(_ command: String, path: String?) throws(SpawnError) -> String {
        if command.contains("/") {
            guard FileManager.default.fileExists(atPath: command) else { throw .notFound(command) }
            return command
        }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(
            separator: ":", omittingEmptySubsequences: false)
        var found: String?
        for dir in directories {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue {
                if access(candidate, X_OK) == 0 { return candidate }
                found = found ?? candidate
            }
        }
        if let found { throw .notExecutable(command, "permission denied (\(found))") }
        throw .notFound(command)
    }

    /// Starts the child from a dedicated thread that then waits for it and ends with it.
    ///
    /// The parent-death signal belongs to the *thread* that forks, not the process: forking
    /// from a pool thread that the runtime retires after a few idle seconds would SIGKILL a
    /// healthy child. This thread lives exactly as long as the child, and reaps it (no zombies).
    package static func spawn(
        path: String, argv: [String], environment: [String: String], stdoutFD: Int32 = -1, stderrFD: Int32 = -1,
        takeTerminal: Bool = true
    ) async throws(SpawnError) -> ChildProcess {
        let exit = ExitBox()
        let started: Result<pid_t, SpawnError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                let cArgs = argv.map { strdup($0) } + [nil]
                let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
                var error: Int32 = 0
                var guardPid: pid_t = -1
                let pid = cArgs.withUnsafeBufferPointer { args in
                    cEnv.withUnsafeBufferPointer { env in
                        once_spawn(
                            path, args.baseAddress, env.baseAddress, stdoutFD, stderrFD, takeTerminal ? 1 : 0,
                            &guardPid, &error)
                    }
                }
                cArgs.forEach { free($0) }
                cEnv.forEach { free($0) }
                guard pid > 0 else {
                    let why = String(cString: strerror(error))
                    switch error {
                    case ENOENT: continuation.resume(returning: .failure(.notFound(argv[0])))
                    case EACCES, ENOEXEC, EISDIR: continuation.resume(returning: .failure(.notExecutable(argv[0], why)))
                    default: continuation.resume(returning: .failure(.failed(argv[0], why)))
                    }
                    return
                }
                continuation.resume(returning: .success(pid))
                let status = once_wait(pid)
                // The child is gone: members it left in its group (a daemon) now live on their own.
                once_guard_dismiss(guardPid)
                if takeTerminal { once_terminal_reclaim() }
                exit.deliver(ExitStatus(raw: status))
            }
            thread.name = "once-exec child"
            thread.start()
        }
        switch started {
        case .success(let pid): return ChildProcess(pid: pid, exit: exit)
        case .failure(let error): throw error
        }
    }

    private let exit: ExitBox

    init(pid: pid_t, exit: ExitBox) {
        self.pid = pid
        self.exit = exit
    }

    /// Signals the whole group, so `sh -c 'sleep 100 & wait'` ends with its grandchildren.
    package func signalGroup(_ signal: Int32) {
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// Waits until the child has exited (its thread reaped it).
    package func waitForExit() async -> ExitStatus { await exit.value() }
}

/// Hands the exit status from the waiting thread to whoever awaits it.
final class ExitBox: Sendable {
    private struct State {
        var status: ExitStatus?
        var waiters: [CheckedContinuation<ExitStatus, Never>] = []
    }
    private let state = Mutex(State())

    func deliver(_ s: ExitStatus) {
        let toResume = state.withLock { state in
            state.status = s
            defer { state.waiters = [] }
            return state.waiters
        }
        toResume.forEach { $0.resume(returning: s) }
    }

    func value() async -> ExitStatus {
        await withCheckedContinuation { continuation in
            let ready: ExitStatus? = state.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// How the child ended.
package enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    init(raw: Int32) {
        if raw < 0 {
            self = .exited(255)
        } else if once_wifsignaled(raw) != 0 {
            self = .signaled(once_wtermsig(raw))
        } else {
            self = .exited(once_wexitstatus(raw))
        }
    }

    /// The shell convention: the code, or 128+N for death by signal N.
    package var shellCode: Int32 {
        switch self {
        case .exited(let c): c
        case .signaled(let s): 128 + s
        }
    }

    package var succeeded: Bool { self == .exited(0) }

    /// `exit_3`, `signal_SIGKILL`: the lease's error code for a failed run.
    package var errorCode: String {
        switch self {
        case .exited(let c): "exit_\(c)"
        case .signaled(let s): "signal_\(signalName(s))"
        }
    }
}
