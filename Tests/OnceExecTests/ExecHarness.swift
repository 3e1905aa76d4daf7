import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A scratch directory with its own state file, so tests never share leases.
struct Sandbox: Sendable {
    let dir: URL

    init() throws { dir = try makeScratchDirectory("once-exec") }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func read(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }

    func lines(_ name: String) -> [String] {
        (read(name) ?? "").split(separator: "\n").map(String.init)
    }
}

/// A running `once-exec` process.
struct Wrapper: Sendable {
    let child: ChildProcessRun

    var pid: pid_t { child.pid }

    func signal(_ s: Int32) { child.signal(s) }

    /// Waits for the exit (at most `timeout` seconds, then SIGKILL and a thrown error).
    @discardableResult
    func wait(timeout: Double = 60) async throws -> ProcessResult {
        try await child.wait(timeLimit: .milliseconds(Int64(timeout * 1000)))
    }
}

extension ProcessResult {
    /// The last stdout line as JSON (`--json` prints the summary last).
    var summary: JSONValue {
        let last = stdout.split(separator: "\n").last.map(String.init) ?? ""
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(last.utf8))) ?? .null
    }

    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: stdoutData)) ?? .null }
}

/// How a test reaches leases: the local store, or a real once-server on loopback.
enum Mode: String, CaseIterable, Sendable, CustomStringConvertible {
    case local, remote
    var description: String { rawValue }
}

/// One backend for one test: environment for once-exec, and a way to read a key's state.
struct Backend: Sendable {
    let mode: Mode
    let sandbox: Sandbox
    let server: ServerProcess?

    init(_ mode: Mode, serverArguments: [String] = ["--min-ttl", "1"]) async throws {
        self.mode = mode
        let sandbox = try Sandbox()
        self.sandbox = sandbox
        server =
            mode == .remote
            ? try await ServerProcess(database: sandbox.path("server.sqlite"), arguments: serverArguments) : nil
    }

    func stopServer(_ signal: Int32 = SIGTERM) async { await server?.stop(signal: signal) }

    func startServer() async throws { try await server?.start() }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XDG_STATE_HOME"] = sandbox.path("state")
        env.removeValue(forKey: "ONCEONLY_BASE_URL")
        env.removeValue(forKey: "ONCEONLY_API_KEY")
        if let server {
            env["ONCEONLY_BASE_URL"] = server.baseURL
            env["ONCEONLY_API_KEY"] = server.key
        }
        return env
    }

    func start(_ arguments: [String], extraEnvironment: [String: String] = [:], stdin: Data? = nil) throws -> Wrapper {
        Wrapper(
            child: try ChildProcessRun(
                Binaries.onceExec, arguments, environment: environment.merging(extraEnvironment) { $1 }, stdin: stdin))
    }

    func run(
        _ arguments: [String], timeout: Double = 60, extraEnvironment: [String: String] = [:], stdin: Data? = nil
    ) async throws -> ProcessResult {
        try await start(arguments, extraEnvironment: extraEnvironment, stdin: stdin).wait(timeout: timeout)
    }

    /// `once-exec status KEY --json`, through the same backend.
    func status(_ key: String) async throws -> JSONValue {
        try await run(["status", "--json", key]).json
    }
}

enum HarnessError: Error { case failed(String) }
