import COnceSpawn
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The supervised command: leader of its own process group, with the terminal, if any,
/// handed to that group while it runs.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    let tookTerminal: Bool

    public enum SpawnError: Error, Equatable, CustomStringConvertible {
        case notFound(String)
        case notExecutable(String, String)
        case failed(String, String)

        public var description: String {
            switch self {
            case .notFound(let c): "\(c): command not found"
            case .notExecutable(let c, let why): "\(c): cannot execute: \(why)"
            case .failed(let c, let why): "\(c): cannot start: \(why)"
            }
        }
    }

    /// Finds `command` as a shell would: a name with a slash is a path, anything else is
    /// looked up in `PATH`.
    public static func resolve(_ command: String, path: String?) throws(SpawnError) -> String {
        if command.contains("/") {
            guard FileManager.default.fileExists(atPath: command) else { throw .notFound(command) }
            return command
        }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
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

    /// Starts the child. Call on the main thread: the parent-death signal is tied to the thread
    /// that forks, and the main thread lives as long as once-exec does.
    @MainActor
    public static func spawn(
        path: String, argv: [String], environment: [String: String], stdoutFD: Int32 = -1, stderrFD: Int32 = -1,
        takeTerminal: Bool = true
    ) throws(SpawnError) -> ChildProcess {
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var error: Int32 = 0
        let pid = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                once_spawn(path, args.baseAddress, env.baseAddress, stdoutFD, stderrFD, takeTerminal ? 1 : 0, &error)
            }
        }
        if pid < 0 {
            let why = String(cString: strerror(error))
            switch error {
            case ENOENT: throw .notFound(argv[0])
            case EACCES, ENOEXEC, EISDIR: throw .notExecutable(argv[0], why)
            default: throw .failed(argv[0], why)
            }
        }
        return ChildProcess(pid: pid, tookTerminal: takeTerminal)
    }

    init(pid: pid_t, tookTerminal: Bool) {
        self.pid = pid
        self.tookTerminal = tookTerminal
    }

    /// Signals the whole group, so `sh -c 'sleep 100 & wait'` ends with its grandchildren.
    public func signalGroup(_ signal: Int32) {
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// Waits on a dedicated thread (waitpid blocks) and reaps the child: no zombies.
    public func waitForExit() async -> ExitStatus {
        let pid = self.pid
        let raw = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let thread = Thread { continuation.resume(returning: once_wait(pid)) }
            thread.start()
        }
        if tookTerminal { once_terminal_reclaim() }
        return ExitStatus(raw: raw)
    }
}

/// How the child ended.
public enum ExitStatus: Sendable, Equatable {
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
    public var shellCode: Int32 {
        switch self {
        case .exited(let c): c
        case .signaled(let s): 128 + s
        }
    }

    public var succeeded: Bool { self == .exited(0) }

    /// `exit_3`, `signal_SIGKILL`: the lease's error code for a failed run.
    public var errorCode: String {
        switch self {
        case .exited(let c): "exit_\(c)"
        case .signaled(let s): "signal_\(signalName(s))"
        }
    }
}
