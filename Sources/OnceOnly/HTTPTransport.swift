import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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

/// Sends requests to the API: URL building, fixed headers, one timeout per attempt and the
/// retry loop of the official clients (SDK.md §3.3).
final class HTTPTransport: Sendable {
    static let retryableStatuses: Set<Int> = [429, 500, 502, 503, 504]

    let baseURL: String
    let apiKey: String
    let userAgent: String
    let timeout: Double
    let maxRetries: Int
    let backoff: Double
    let maxBackoff: Double
    let session: URLSession
    let sleep: Sleeper

    init(
        baseURL: String, apiKey: String, userAgent: String, timeout: Double, maxRetries: Int, backoff: Double,
        maxBackoff: Double, session: URLSession, sleep: @escaping Sleeper
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.userAgent = userAgent
        self.timeout = timeout
        self.maxRetries = maxRetries
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.session = session
        self.sleep = sleep
    }

    /// A session without caches or cookies, so repeated polls always reach the server.
    static func makeSession() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }

    /// The exponential wait before retry number `attempt + 1` (no jitter).
    func backoffDelay(attempt: Int) -> Double {
        min(maxBackoff, backoff * pow(2, Double(attempt)))
    }

    /// Sends with retries on 429/5xx and transport failures. Returns the last answer, whatever its
    /// status; throws ``OnceOnlyError/timeout(seconds:)`` or ``OnceOnlyError/transport(_:)`` when
    /// the final attempt got no answer.
    func send(
        method: String, path: String, query: [(String, String)] = [], body: JSON? = nil, headers: [String: String] = [:]
    ) async throws -> OnceOnlyResponse {
        let request = try makeRequest(method: method, path: path, query: query, body: body, headers: headers)
        var attempt = 0
        while true {
            let response: OnceOnlyResponse
            do {
                response = try await perform(request)
            } catch let error as OnceOnlyError {
                if attempt >= maxRetries { throw error }
                try await sleep(backoffDelay(attempt: attempt))
                attempt += 1
                continue
            }
            if !Self.retryableStatuses.contains(response.status) || attempt >= maxRetries { return response }
            try await sleep(max(0, response.retryAfter ?? backoffDelay(attempt: attempt)))
            attempt += 1
        }
    }

    func makeRequest(
        method: String, path: String, query: [(String, String)], body: JSON?, headers: [String: String]
    ) throws -> URLRequest {
        var text = baseURL + (path.hasPrefix("/") ? path : "/" + path)
        if !query.isEmpty {
            text +=
                "?" + query.map { "\(FormEncoding.encode($0.0))=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        }
        guard let url = URL(string: text) else { throw OnceOnlyError.invalidArgument("invalid URL: \(text)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        // Our own timer decides; the session's must not fire first.
        request.timeoutInterval = max(0.001, timeout) + 30
        request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(userAgent, forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body.serialized().utf8) }
        return request
    }

    /// One attempt, limited to `timeout` seconds.
    func perform(_ request: URLRequest) async throws -> OnceOnlyResponse {
        let limit = max(0.001, timeout)
        let attempt = AttemptState()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<OnceOnlyResponse, any Error>) in
                attempt.start(continuation)
                let task = session.dataTask(with: request) { data, response, error in
                    attempt.finish(Self.outcome(data: data, response: response, error: error, limit: limit))
                }
                let timer = DispatchWorkItem { attempt.finish(.failure(OnceOnlyError.timeout(seconds: limit))) }
                attempt.attach(task: task, timer: timer)
                DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: timer)
                task.resume()
            }
        } onCancel: {
            attempt.finish(.failure(CancellationError()))
        }
    }

    static func outcome(data: Data?, response: URLResponse?, error: (any Error)?, limit: Double) -> Result<
        OnceOnlyResponse, any Error
    > {
        if let error {
            if let urlError = error as? URLError, urlError.code == .timedOut {
                return .failure(OnceOnlyError.timeout(seconds: limit))
            }
            let code = (error as? URLError).map { " (URLError \($0.code.rawValue))" } ?? ""
            return .failure(OnceOnlyError.transport(error.localizedDescription + code))
        }
        guard let http = response as? HTTPURLResponse else {
            return .failure(OnceOnlyError.transport("the answer was not HTTP"))
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            headers[String(describing: name).lowercased()] = String(describing: value)
        }
        let text = String(decoding: data ?? Data(), as: UTF8.self)
        return .success(OnceOnlyResponse(status: http.statusCode, headers: headers, text: text))
    }
}

/// The shared state of one attempt: the first of answer, timer and cancellation wins; the
/// others find the continuation gone. Guarded by a lock because URLSession and Dispatch call
/// back on their own threads.
///
/// `@unchecked Sendable` is sound because every stored property is read and written only while
/// `lock` is held, and what leaves the lock (`task.cancel()`, `timer.cancel()`, resuming the
/// continuation) is documented as safe from any thread. `Synchronization.Mutex` would say this
/// to the compiler, but it needs macOS 15 and the SDK supports macOS 14.
private final class AttemptState: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<OnceOnlyResponse, any Error>?
    private var task: URLSessionDataTask?
    private var timer: DispatchWorkItem?
    private var pending: Result<OnceOnlyResponse, any Error>?

    func start(_ continuation: CheckedContinuation<OnceOnlyResponse, any Error>) {
        lock.lock()
        if let pending {
            lock.unlock()
            continuation.resume(with: pending)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func attach(task: URLSessionDataTask, timer: DispatchWorkItem) {
        lock.lock()
        let finished = continuation == nil
        self.task = task
        self.timer = timer
        lock.unlock()
        if finished { task.cancel() }
    }

    func finish(_ result: Result<OnceOnlyResponse, any Error>) {
        lock.lock()
        guard let continuation else {
            // Cancelled before the continuation existed: remember the outcome for start().
            if pending == nil, case .failure = result { pending = result }
            lock.unlock()
            return
        }
        self.continuation = nil
        let task = self.task
        let timer = self.timer
        self.task = nil
        self.timer = nil
        lock.unlock()
        timer?.cancel()
        if case .failure = result { task?.cancel() }
        continuation.resume(with: result)
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
