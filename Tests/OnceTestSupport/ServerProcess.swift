import Foundation
import OnceCore
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A real `once-server` process on 127.0.0.1, as users run it.
///
/// The first ``start()`` binds port 0 and learns the port from the server's log line; later
/// starts (after ``stop(signal:)``) bind that same port again, so clients configured with
/// ``baseURL`` find the restarted server.
public final class ServerProcess: Sendable {
    /// Passed verbatim to `--database`: a SQLite path, or any URL the server accepts.
    public let database: String
    public let key: String
    public let arguments: [String]

    private struct State {
        var process: ChildProcessRun?
        var port = 0
    }
    private let state = Mutex(State())

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates an API key with `once-server keys create` and starts the server.
    /// - Parameter database: nil makes a fresh SQLite file in a new temporary directory.
    public init(database: String? = nil, arguments: [String] = []) async throws {
        if let database {
            self.database = database
        } else {
            self.database = try makeScratchDirectory("once-server").appendingPathComponent("once.sqlite").path
        }
        self.arguments = arguments
        let created = try await runProcess(
            Binaries.onceServer, ["keys", "create", "--database", self.database], timeLimit: .seconds(60))
        guard created.code == 0 else {
            throw Failure(description: "once-server keys create exited \(created.code): \(created.stderr)")
        }
        key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await start()
    }

    public var port: Int { state.withLock { $0.port } }
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var isRunning: Bool { state.withLock { $0.process?.isRunning ?? false } }

    /// Starts (or restarts) the server and waits for its `listening on` line.
    public func start() async throws {
        let port = self.port
        let child = try ChildProcessRun(
            Binaries.onceServer,
            ["serve", "--host", "127.0.0.1", "--port", String(port), "--database", database] + arguments)
        state.withLock { $0.process = child }
        let line: String
        do {
            line = try await child.waitForStdout(matching: #"listening on http://127\.0\.0\.1:\d+"#)
        } catch {
            child.signal(SIGKILL)
            throw Failure(description: "once-server did not start: \(error)")
        }
        guard let bound = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw Failure(description: "once-server printed no port: \(line)")
        }
        state.withLock { $0.port = bound }
    }

    /// Sends `signal` and waits for the exit; returns the exit code (128+N for a signal), 0 when
    /// the server was not running.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) async -> Int32 {
        guard
            let child = state.withLock({ s in
                defer { s.process = nil }; return s.process
            })
        else { return 0 }
        child.signal(signal)
        do {
            return try await child.wait(timeLimit: .seconds(30)).code
        } catch {
            return -1
        }
    }

    deinit {
        state.withLock { $0.process }?.signal(SIGKILL)
    }

    /// One request on its own URLSession (its own connection), so concurrent callers are
    /// concurrent clients.
    public func send(_ method: String, _ path: String, json: String? = nil, session: URLSession = .shared)
        async throws -> (status: Int, body: JSONValue)
    {
        guard let url = URL(string: baseURL + path) else { throw Failure(description: "bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 30
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null)
    }
}
