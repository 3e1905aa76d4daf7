import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OnceCore
import OnceEncoding
import Synchronization

/// A real tool backend on 127.0.0.1 for the governed-call tests: it checks each call's
/// X-OnceOnly-Signature with its own HMAC-SHA256 (written here over OnceEncoding's SHA-256, so
/// it does not share code with the server's swift-crypto one) and answers by path:
/// `/ok` echoes the args, `/flaky` answers 500 once per request_id then 200, `/bad` 400,
/// `/slow` sleeps past any short timeout, `/value` a bare JSON number.
final class ToolBackend: Sendable {
    struct Call: Sendable {
        let path: String
        let body: JSONValue
        let signatureValid: Bool
        /// By lowercased name.
        let headers: [String: String]
    }

    let secret: String
    private let received = Mutex<[Call]>([])
    private let seen = Mutex<Set<String>>([])

    init(secret: String) { self.secret = secret }

    var calls: [Call] { received.withLock { $0 } }
    func calls(to path: String) -> [Call] { calls.filter { $0.path == path } }

    /// Runs the backend for the duration of `body`, which receives its base URL.
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/:what") { request, context -> Response in
            let what = context.parameters.get("what") ?? ""
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let raw = [UInt8](bytes.readableBytesView)
            let sent = request.headers[HTTPField.Name("X-OnceOnly-Signature")!] ?? ""
            let valid = sent == ToolBackend.hmacHex(key: Array(self.secret.utf8), message: raw)
            let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(raw))) ?? .null
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            self.received.withLock {
                $0.append(Call(path: "/" + what, body: json, signatureValid: valid, headers: headers))
            }
            guard valid else { return Self.reply(.unauthorized, #"{"error":"bad signature"}"#) }
            switch what {
            case "ok":
                return Self.reply(.ok, JSONValue.object(["echo": json["args"] ?? .null]).canonicalText)
            case "flaky":
                let id = json["request_id"]?.stringValue ?? ""
                let first = self.seen.withLock { $0.insert(id).inserted }
                return first ? Self.reply(.internalServerError, "{}") : Self.reply(.ok, #"{"recovered":true}"#)
            case "bad":
                return Self.reply(.badRequest, #"{"error":"bad input"}"#)
            case "slow":
                try? await Task.sleep(for: .seconds(3))
                return Self.reply(.ok, #"{"late":true}"#)
            case "value":
                return Self.reply(.ok, "42")
            default:
                return Self.reply(.notFound, "{}")
            }
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "tool-backend"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            try await body("http://127.0.0.1:\(port)")
            group.cancelAll()
        }
    }

    static func reply(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// RFC 2104 over SHA-256 (block 64 bytes).
    static func hmacHex(key: [UInt8], message: [UInt8]) -> String {
        var k = key.count > 64 ? SHA256.digest(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = SHA256.digest(k.map { $0 ^ 0x36 } + message)
        let outer = SHA256.digest(k.map { $0 ^ 0x5c } + inner)
        return outer.map { String(format: "%02x", $0) }.joined()
    }
}
