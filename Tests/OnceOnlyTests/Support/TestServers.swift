import Foundation
import Hummingbird
import Logging
import OnceCore
import OnceOnly
import OnceServer
import OnceStore
import OnceStoreTestSupport
import Synchronization

/// A value shared between tasks behind a lock (a class, so closures can share one instance).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withValue<T: Sendable>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { try body(&$0) }
    }

    var current: Value { withValue { $0 } }
}

/// A ``Sleeper`` that records the requested waits and returns at once.
struct RecordingSleeper: Sendable {
    let waits = Locked<[Double]>([])
    var sleeper: Sleeper {
        let waits = self.waits
        return { seconds in waits.withValue { $0.append(seconds) } }
    }
}

let quietLogger: Logger = {
    var logger = Logger(label: "once-sdk-tests")
    logger.logLevel = .critical
    return logger
}()

/// Runs a Hummingbird application on 127.0.0.1, port 0, until `body` returns.
private func withApplication<App: ApplicationProtocol, T>(
    _ make: (@escaping @Sendable (Int) async -> Void) -> App, _ body: (Int) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = make { port in continuation.yield(port) }
    let task = Task { try await app.runService() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw CancellationError() }
    do {
        let value = try await body(port)
        task.cancel()
        _ = await task.result
        return value
    } catch {
        task.cancel()
        _ = await task.result
        throw error
    }
}

// MARK: - once-server in process

/// A real once-server over a fresh store (SQLite, or PostgreSQL with `ONCE_TEST_STORE=postgres`),
/// listening on loopback.
struct OnceServerFixture: Sendable {
    let store: any OnceStorage
    let key: String
    let baseURL: String

    func client(
        timeout: Double = 5, failOpen: Bool = true, maxRetries429: Int = 0, sleep: Sleeper? = nil
    ) throws -> OnceOnlyClient {
        try OnceOnlyClient(
            apiKey: key, baseURL: baseURL, timeout: timeout, failOpen: failOpen, maxRetries429: maxRetries429,
            sleep: sleep, environment: [:])
    }
}

/// Rate limiting is off unless `rateLimit` turns it on.
func withOnceServer<T>(
    duplicateStatusCode: Int = 200, minTTL: Int = Rules.defaultMinTTL, plan: Plan = .agency,
    rateLimit: Double = 0, rateBurst: Int = 100,
    _ body: (OnceServerFixture) async throws -> T
) async throws -> T {
    let store = try await TestStores.make()
    let key = try await store.createKey(plan: plan, name: nil, accountId: nil).key
    var configuration = ServerConfiguration(
        host: "127.0.0.1", port: 0, duplicateStatusCode: duplicateStatusCode, minTTL: minTTL, sweepInterval: 0,
        rateLimit: rateLimit, rateBurst: rateBurst)
    // Tool backends in these tests run on 127.0.0.1.
    configuration.toolSecrets = .random()
    configuration.allowPrivateToolURLs = true
    configuration.toolRetryBaseDelay = .milliseconds(20)
    return try await withApplication(
        { onListening in
            OnceServerApp.application(
                store: store, configuration: configuration, logger: quietLogger, onListening: onListening)
        },
        { port in try await body(OnceServerFixture(store: store, key: key, baseURL: "http://127.0.0.1:\(port)")) })
}

// MARK: - Scripted HTTP server

/// One request as the scripted server received it.
struct RecordedRequest: Sendable {
    let method: String
    let path: String
    let query: [String: String]
    /// The query string as sent (still encoded).
    let rawQuery: String?
    let headers: [String: String]
    let body: String
    let at: Date

    var json: JSON? { body.isEmpty ? nil : JSON(parsing: Data(body.utf8)) }
}

/// What the scripted server answers.
struct ScriptedReply: Sendable {
    var status: Int = 200
    var headers: [String: String] = [:]
    var body: String = "{}"
    /// Seconds to wait before answering.
    var delay: Double = 0

    static func json(_ status: Int, _ value: JSON, headers: [String: String] = [:]) -> ScriptedReply {
        ScriptedReply(status: status, headers: headers, body: value.serialized())
    }

    static func json(_ value: JSON, headers: [String: String] = [:]) -> ScriptedReply {
        json(200, value, headers: headers)
    }
}

/// A small real HTTP server of ours: answers from a queue of scripted replies (then from a
/// handler) and records every request.
final class ScriptedServer: Sendable {
    let port: Int
    private let queue: Locked<[ScriptedReply]>
    private let log: Locked<[RecordedRequest]>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [RecordedRequest] { log.current }

    fileprivate init(port: Int, queue: Locked<[ScriptedReply]>, log: Locked<[RecordedRequest]>) {
        self.port = port
        self.queue = queue
        self.log = log
    }

    /// Answers the next requests with these replies, in order.
    func enqueue(_ replies: ScriptedReply...) { queue.withValue { $0.append(contentsOf: replies) } }

    /// A client whose waits are recorded instead of slept.
    func recordingClient(
        timeout: Double = 5, maxRetries429: Int, retryBackoff: Double = 0.5, retryMaxBackoff: Double = 5
    ) throws -> (OnceOnlyClient, RecordingSleeper) {
        let sleeper = RecordingSleeper()
        let client = try client(
            timeout: timeout, maxRetries429: maxRetries429, retryBackoff: retryBackoff,
            retryMaxBackoff: retryMaxBackoff, sleep: sleeper.sleeper)
        return (client, sleeper)
    }

    func client(
        timeout: Double = 5, failOpen: Bool = true, maxRetries429: Int = 0, retryBackoff: Double = 0.5,
        retryMaxBackoff: Double = 5, sleep: Sleeper? = nil
    ) throws -> OnceOnlyClient {
        try OnceOnlyClient(
            apiKey: "once_live_test", baseURL: baseURL, timeout: timeout, failOpen: failOpen,
            maxRetries429: maxRetries429, retryBackoff: retryBackoff, retryMaxBackoff: retryMaxBackoff, sleep: sleep,
            environment: [:])
    }
}

func withScriptedServer<T>(
    fallback: @escaping @Sendable (RecordedRequest) async -> ScriptedReply = { _ in ScriptedReply() },
    _ body: (ScriptedServer) async throws -> T
) async throws -> T {
    let queue = Locked<[ScriptedReply]>([])
    let log = Locked<[RecordedRequest]>([])
    let responder = CallbackResponder<BasicRequestContext> { request, _ in
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var query: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let recorded = RecordedRequest(
            method: request.method.rawValue, path: request.uri.path, query: query, rawQuery: request.uri.query,
            headers: headers,
            body: String(buffer: buffer), at: Date())
        log.withValue { $0.append(recorded) }
        let scripted = queue.withValue { $0.isEmpty ? nil : $0.removeFirst() }
        let reply: ScriptedReply
        if let scripted { reply = scripted } else { reply = await fallback(recorded) }
        if reply.delay > 0 { try? await Task.sleep(nanoseconds: UInt64(reply.delay * 1e9)) }
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        for (name, value) in reply.headers { fields[HTTPFields.Element.Name(name)!] = value }
        return Response(
            status: .init(code: reply.status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
    }
    return try await withApplication(
        { onListening in
            Application(
                responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
                logger: quietLogger)
        },
        { port in try await body(ScriptedServer(port: port, queue: queue, log: log)) })
}
