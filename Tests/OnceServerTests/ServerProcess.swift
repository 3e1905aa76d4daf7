import Foundation
import OnceCore
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real `once-server` process on a loopback port, as users run it.
final class ServerProcess: @unchecked Sendable {
    let database: String
    let key: String
    private(set) var process: Process?
    private(set) var port = 0
    let extraArguments: [String]

    static var binary: URL {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ONCE_SERVER_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let nextToTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("once-server")
        if FileManager.default.isExecutableFile(atPath: nextToTests.path) { return nextToTests }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/once-server")
    }

    init(arguments: [String] = []) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        database = dir.appendingPathComponent("once.sqlite").path
        extraArguments = arguments
        key = try Self.run(["keys", "create", "--database", database]).trimmingCharacters(in: .whitespacesAndNewlines)
        try start()
    }

    static func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ServerError.commandFailed(arguments, p.terminationStatus) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Starts (or restarts) the server on a free port and waits for its one log line.
    func start() throws {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--database", database] + extraArguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        process = p
        var buffer = Data()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if let range = text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)!
                return
            }
        }
        throw ServerError.didNotStart(String(decoding: buffer, as: UTF8.self))
    }

    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let p = process else { return 0 }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        process = nil
        return p.terminationStatus
    }

    deinit { _ = stop(signal: SIGKILL) }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// One request on its own URLSession (its own connection), so concurrent callers are
    /// concurrent clients.
    func send(_ method: String, _ path: String, json: String? = nil, session: URLSession = .shared) async throws
        -> (status: Int, body: JSONValue)
    {
        var request = URLRequest(url: URL(string: baseURL + path)!)
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

enum ServerError: Error {
    case commandFailed([String], Int32)
    case didNotStart(String)
}
