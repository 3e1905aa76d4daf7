import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Suspends the caller for a number of seconds. The client uses it between retry attempts and
/// between polls of ``AIClient/wait(key:timeout:pollMin:pollMax:autoExtend:extendEvery:leaseId:ttl:)``;
/// tests inject one that records the requested waits instead of sleeping.
public typealias Sleeper = @Sendable (_ seconds: Double) async throws -> Void

/// One HTTP answer, before any error mapping.
public struct OnceOnlyResponse: Sendable {
    /// The HTTP status code.
    public let status: Int
    /// Response headers, names lower-cased.
    public let headers: [String: String]
    /// The body as text.
    public let text: String

    /// A header by name (case-insensitive).
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The body parsed as JSON; `nil` when blank or not JSON.
    public var json: JSON? {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return JSON(parsing: Data(text.utf8))
    }

    /// The body as the TypeScript SDK hands it to callers of a 2xx (SDK.md §3.4): an object as
    /// is, an array or other truthy scalar wrapped as `{"data": value}`, nothing or falsy as `{}`.
    public var object: JSONObject {
        guard let json, json.isTruthy else { return [:] }
        if case .object(let members) = json { return members }
        return ["data": json]
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The numeric `Retry-After` header in seconds, if present and finite (HTTP dates are ignored).
    public var retryAfter: Double? {
        guard let value = header("retry-after")?.trimmingCharacters(in: .whitespaces),
            let seconds = Double(value), seconds.isFinite
        else { return nil }
        return seconds
    }
}

/// The SDK's process-wide HTTP client: never shut down, like `HTTPClient.shared`, but a
/// connection that cannot be made fails at once. The SDK's own retry loop decides what comes
/// next (SDK.md §3.3); AsyncHTTPClient's default would retry connecting until its connect
/// timeout, so a refused connection came back as a timeout and fail-open named the wrong reason.
let defaultHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration.singletonConfiguration
    configuration.decompression = .disabled
    configuration.connectionPool.idleTimeout = .seconds(60)
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// One request as built for the wire, before any attempt.
struct WireRequest: Sendable {
    var method: String
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]?
}

/// Sends requests to the API: URL building, fixed headers, one timeout per attempt and the
/// retry loop of the official clients (SDK.md §3.3).
///
/// The wire is AsyncHTTPClient (SwiftNIO), not URLSession: on Linux URLSession lives in
/// FoundationNetworking, which loads libcurl and some thirty shared libraries (GnuTLS, Kerberos,
/// LDAP, p11-kit) at every start of every program that links the SDK, once-exec included,
/// whether or not it makes a request.
final class HTTPTransport: Sendable {
    static let retryableStatuses: Set<Int> = [429, 500, 502, 503, 504]
    /// Answers larger than this are a transport failure, not a reason to run out of memory.
    static let maxBody = 16 << 20

    let baseURL: String
    let apiKey: String
    let userAgent: String
    let timeout: Double
    /// The client's retry options (SDK.md §3.3).
    let retry: RetryPolicy
    let client: HTTPClient
    let sleep: Sleeper

    init(
        baseURL: String, apiKey: String, userAgent: String, timeout: Double, retry: RetryPolicy, client: HTTPClient,
        sleep: @escaping Sleeper
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.userAgent = userAgent
        self.timeout = timeout
        self.retry = retry
        self.client = client
        self.sleep = sleep
    }

    /// Sends with retries on 429/5xx and transport failures. Returns the last answer, whatever its
    /// status; throws ``OnceOnlyError/timeout(seconds:)`` or ``OnceOnlyError/transport(_:)`` when
    /// the final attempt got no answer.
    func send(
        method: String, path: String, query: [(String, String)] = [], body: JSON? = nil, headers: [String: String] = [:]
    ) async throws -> OnceOnlyResponse {
        let request = try makeRequest(method: method, path: path, query: query, body: body, headers: headers)
        var retries = 0
        while true {
            let response: OnceOnlyResponse
            do {
                response = try await perform(request)
            } catch let error as OnceOnlyError {
                guard retry.allowsRetry(afterFailures: retries + 1) else { throw error }
                try await sleep(retry.delay(beforeRetry: retries))
                retries += 1
                continue
            }
            guard Self.retryableStatuses.contains(response.status), retry.allowsRetry(afterFailures: retries + 1) else {
                return response
            }
            // The server's Retry-After, when it sends one, replaces the backoff (and is not capped).
            try await sleep(max(0, response.retryAfter ?? retry.delay(beforeRetry: retries)))
            retries += 1
        }
    }

    func makeRequest(
        method: String, path: String, query: [(String, String)], body: JSON?, headers: [String: String]
    ) throws -> WireRequest {
        var text = baseURL + (path.hasPrefix("/") ? path : "/" + path)
        if !query.isEmpty {
            text +=
                "?" + query.map { "\(FormEncoding.encode($0.0))=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else { throw OnceOnlyError.invalidArgument("invalid URL: \(text)") }
        var fields: [(String, String)] = [
            ("Authorization", "Bearer \(apiKey)"), ("Content-Type", "application/json"), ("User-Agent", userAgent),
        ]
        for (name, value) in headers {
            fields.removeAll { $0.0.lowercased() == name.lowercased() }
            fields.append((name, value))
        }
        return WireRequest(
            method: method, url: url.absoluteString, headers: fields, body: body.map { Array($0.typeScriptText.utf8) })
    }

    /// One attempt, limited to `timeout` seconds (connecting, sending and reading the whole answer).
    func perform(_ wire: WireRequest) async throws -> OnceOnlyResponse {
        let limit = max(0.001, timeout)
        var request = HTTPClientRequest(url: wire.url)
        request.method = HTTPMethod(rawValue: wire.method)
        for (name, value) in wire.headers { request.headers.add(name: name, value: value) }
        if let body = wire.body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let deadline = NIODeadline.now() + .nanoseconds(Int64(limit * 1e9))
        do {
            let response = try await client.execute(request, deadline: deadline)
            let body = try await response.body.collect(upTo: Self.maxBody)
            var headers: [String: String] = [:]
            for (name, value) in response.headers {
                let key = name.lowercased()
                headers[key] = headers[key].map { "\($0), \(value)" } ?? value
            }
            return OnceOnlyResponse(
                status: Int(response.status.code), headers: headers, text: String(buffer: body))
        } catch let error as HTTPClientError {
            if Task.isCancelled || error == .cancelled { throw CancellationError() }
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                throw OnceOnlyError.timeout(seconds: limit)
            }
            throw OnceOnlyError.transport(Self.describe(error))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // An answer cut off past the deadline surfaces as the connection's error, not ours.
            if NIODeadline.now() >= deadline { throw OnceOnlyError.timeout(seconds: limit) }
            throw OnceOnlyError.transport(Self.describe(error))
        }
    }

    /// A transport failure in words a person reads, e.g. "connection refused (127.0.0.1:9)".
    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            let firstFailure = error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
            return "cannot connect to \(error.host):\(error.port): \(firstFailure)"
        }
        if let error = error as? IOError { return error.description }
        if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
            return "the server closed the connection before it answered"
        }
        return "\(error)"
    }
}

/// `application/x-www-form-urlencoded` query encoding (as `URLSearchParams`: space → `+`) and
/// `encodeURIComponent` for path segments.
enum FormEncoding {
    private static let queryAllowed = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._ ")
    private static let componentAllowed = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")

    static func encode(_ value: String) -> String {
        (value.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? value).replacingOccurrences(
            of: " ", with: "+")
    }

    static func pathComponent(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: componentAllowed) ?? value
    }
}
