import Foundation
import OnceCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Drives the built `once-exec` (and `once-server`) binaries as a user would.
enum Binaries {
    static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ONCE_BIN_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        let nextToTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: nextToTests.appendingPathComponent("once-exec").path) {
            return nextToTests
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug")
    }

    static var onceExec: String { directory.appendingPathComponent("once-exec").path }
    static var onceServer: String { directory.appendingPathComponent("once-server").path }
}

/// A scratch directory with its own state file, so tests never share leases.
struct Sandbox {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func read(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }

    func lines(_ name: String) -> [String] {
        (read(name) ?? "").split(separator: "\n").map(String.init)
    }
}

/// A running or finished `once-exec` process.
final class Wrapper: @unchecked Sendable {
    let process = Process()
    private let out = Pipe()
    private let err = Pipe()
    private var outData = Data()
    private var errData = Data()
    private let group = DispatchGroup()

    init(_ arguments: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: Binaries.onceExec)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        group.enter()
        group.enter()
        let outHandle = out.fileHandleForReading
        let errHandle = err.fileHandleForReading
        Thread {
            self.outData = outHandle.readDataToEndOfFile()
            self.group.leave()
        }.start()
        Thread {
            self.errData = errHandle.readDataToEndOfFile()
            self.group.leave()
        }.start()
    }

    var pid: pid_t { process.processIdentifier }

    func signal(_ s: Int32) { kill(pid, s) }

    /// Waits for the exit (at most `timeout` seconds, then SIGKILL and a test failure).
    @discardableResult
    func wait(timeout: Double = 60) -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Issue.record("once-exec did not exit within \(timeout)s")
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        group.wait()
        return Result(
            code: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    struct Result {
        let code: Int32
        let stdout: String
        let stderr: String

        var summary: JSONValue {
            let last = stdout.split(separator: "\n").last.map(String.init) ?? ""
            return (try? JSONDecoder().decode(JSONValue.self, from: Data(last.utf8))) ?? .null
        }
    }
}

/// How a test reaches leases: the local store, or a real once-server on loopback.
enum Mode: String, CaseIterable, Sendable, CustomStringConvertible {
    case local, remote
    var description: String { rawValue }
}

/// One backend for one test: environment for once-exec, and a way to read a key's state.
final class Backend: @unchecked Sendable {
    let mode: Mode
    let sandbox: Sandbox
    private(set) var server: Process?
    private(set) var port = 0
    private(set) var apiKey = ""
    let serverArguments: [String]

    init(_ mode: Mode, serverArguments: [String] = ["--min-ttl", "1"]) throws {
        self.mode = mode
        self.sandbox = try Sandbox()
        self.serverArguments = serverArguments
        if mode == .remote {
            apiKey = try Self.capture(
                Binaries.onceServer, ["keys", "create", "--database", sandbox.path("server.sqlite")]
            )
            .trimmingCharacters(in: .whitespacesAndNewlines)
            try startServer()
        }
    }

    deinit { stopServer(SIGKILL) }

    static func capture(_ path: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func startServer() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binaries.onceServer)
        var args = [
            "serve", "--host", "127.0.0.1", "--port", String(port), "--database", sandbox.path("server.sqlite"),
        ]
        args += serverArguments
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let r = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[r].split(separator: ":").last!)!
                server = p
                return
            }
        }
        throw HarnessError.serverDidNotStart(text)
    }

    func stopServer(_ signal: Int32 = SIGTERM) {
        guard let server else { return }
        kill(server.processIdentifier, signal)
        server.waitUntilExit()
        self.server = nil
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XDG_STATE_HOME"] = sandbox.path("state")
        env.removeValue(forKey: "ONCEONLY_BASE_URL")
        env.removeValue(forKey: "ONCEONLY_API_KEY")
        if mode == .remote {
            env["ONCEONLY_BASE_URL"] = "http://127.0.0.1:\(port)"
            env["ONCEONLY_API_KEY"] = apiKey
        }
        return env
    }

    func start(_ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> Wrapper {
        try Wrapper(arguments, environment: environment.merging(extraEnvironment) { $1 })
    }

    func run(_ arguments: [String], timeout: Double = 60) throws -> Wrapper.Result {
        try start(arguments).wait(timeout: timeout)
    }

    /// `once-exec status KEY --json`, through the same backend.
    func status(_ key: String) throws -> JSONValue {
        let r = try run(["status", "--json", key])
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(r.stdout.utf8))) ?? .null
    }
}

enum HarnessError: Error { case serverDidNotStart(String) }

/// True while `pid` is a live (not zombie) process.
func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    // Field 3 is the state; Z is a zombie, X dead.
    let afterName = stat.split(separator: ")").last ?? ""
    let state = afterName.split(separator: " ").first ?? ""
    return state != "Z" && state != "X"
}

func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
