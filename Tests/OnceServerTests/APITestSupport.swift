import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OnceCore
import OnceServer
import OnceStore
import OnceStoreTestSupport
import Synchronization
import Testing

/// A once-server router over a real store, driven in process through HummingbirdTesting.
struct APIHarness {
    let store: any OnceStorage
    let key: String
    let app: Application<RouterResponder<OnceRequestContext>>

    /// Over a fresh store of the kind `ONCE_TEST_STORE` names (SQLite unless it says postgres).
    /// Rate limiting is off unless a test turns it on: the other suites send bursts that
    /// would otherwise measure the limiter instead of what they test.
    static let unlimited = ServerConfiguration(rateLimit: 0)

    init(
        configuration: ServerConfiguration = APIHarness.unlimited, plan: Plan = .agency,
        store given: (any OnceStorage)? = nil, logger: Logger? = nil
    ) async throws {
        if let given { store = given } else { store = try await TestStores.make() }
        key = try await store.createKey(plan: plan, name: "test", accountId: nil).key
        let router = OnceServerApp.router(store: store, configuration: configuration)
        app = Application(router: router, logger: logger ?? Logger(label: "once-server-tests"))
    }

    func run(_ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        let key = self.key
        try await app.test(.router) { client in try await body(APIClient(client: client, key: key)) }
    }
}

struct APIResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null }
    /// `detail.error` of an error envelope.
    var errorCode: String? { json["detail"]?["error"]?.stringValue }
    /// The `loc` paths of a 422's issues, joined with dots (`body.key`).
    var issueLocations: [String] {
        guard case .array(let issues)? = json["detail"] else { return [] }
        return issues.compactMap { issue in
            guard case .array(let loc)? = issue["loc"] else { return nil }
            return loc.compactMap(\.stringValue).joined(separator: ".")
        }
    }
}

struct APIClient: Sendable {
    let client: any TestClientProtocol
    let key: String

    func request(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, bytes: [UInt8]? = nil, auth: String?? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        switch auth {
        case .none: headers[.authorization] = "Bearer \(key)"
        case .some(.some(let value)): headers[.authorization] = value
        case .some(.none): break
        }
        var body: ByteBuffer? = nil
        if let json { body = ByteBuffer(string: json) }
        if let bytes { body = ByteBuffer(bytes: bytes) }
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
            APIResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    func post(_ uri: String, _ json: String) async throws -> APIResponse { try await request(.post, uri, json: json) }
    func get(_ uri: String) async throws -> APIResponse { try await request(.get, uri) }
}

extension HTTPField.Name {
    static let requestId = Self("X-Request-Id")!
    static let onceOnlyStatus = Self("X-OnceOnly-Status")!
}

/// Keeps every log record, to check what a request's log lines carry.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        let message: String
        let metadata: [String: String]
    }

    let records = Mutex<[Record]>([])

    var logger: Logger {
        Logger(label: "captured") { _ in CapturingHandler(sink: self) }
    }

    struct CapturingHandler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata
            for (k, v) in event.metadata ?? [:] { all[k] = v }
            let record = Record(message: "\(event.message)", metadata: all.mapValues { "\($0)" })
            sink.records.withLock { $0.append(record) }
        }
    }
}
