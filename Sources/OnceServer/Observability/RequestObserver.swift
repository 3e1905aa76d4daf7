import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The outermost middleware: times every request, logs one `info` line for it (method, route,
/// status, duration, request id) and counts it in the metrics. It runs outside
/// ``EnvelopeMiddleware``, so it sees the final status and the `X-Request-Id` every response
/// carries, errors included.
package struct RequestObserver: RouterMiddleware {
    package typealias Context = OnceRequestContext
    let metrics: ServerMetrics?

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws
        -> Response
    {
        let clock = ContinuousClock()
        let start = clock.now
        var response = try await next(request, context)
        let duration = start.duration(to: clock.now)
        // The route pattern, not the path: `/v1/runs/{run_id}` keeps the label set bounded.
        // Hummingbird names a path that matched no route "NotFound"; one label for all of them.
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        let status = Int(response.status.code)
        if let metrics {
            metrics.request(route: route, method: request.method.rawValue, status: status, duration: duration)
            observeOutcome(route: route, status: status, response: &response, metrics: metrics)
        }
        var logger = context.logger
        logger[metadataKey: "request_id"] = response.headers[.requestId].map { "\($0)" }
        logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(status)",
                "duration_ms": "\(Self.milliseconds(duration))",
            ])
        return response
    }

    static func milliseconds(_ d: Duration) -> String {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return String(format: "%.3f", ms)
    }

    /// Check-lock outcomes and lease transitions, read off the answer (its status code, the
    /// `X-OnceOnly-Status` header, and for `/ai/lease` the body's `status`), so the handlers
    /// need no metrics code.
    private func observeOutcome(route: String, status: Int, response: inout Response, metrics: ServerMetrics) {
        if status == 429 { metrics.rateLimited.increment() }
        switch route {
        case "/v1/check-lock":
            switch status {
            case 200: response.headers[.onceOnlyStatus].map { metrics.checkLock($0) }
            case 409: metrics.checkLock("duplicate")
            case 402: metrics.checkLock("over_limit")
            default: break
            }
        case "/v1/ai/lease":
            if status == 402 { metrics.leaseTransition("over_limit") }
            guard status == 200 else { return }
            response.body = response.body.map { buffer in
                metrics.leaseTransition(Self.leaseTransition(bodyStatus: Self.statusField(buffer)))
                return buffer
            }
        case "/v1/ai/extend", "/v1/ai/complete", "/v1/ai/fail", "/v1/ai/cancel":
            let names = [
                "/v1/ai/extend": "extended", "/v1/ai/complete": "completed", "/v1/ai/fail": "failed",
                "/v1/ai/cancel": "canceled",
            ]
            if status == 200, let name = names[route] { metrics.leaseTransition(name) }
            if status == 409 || status == 404 { metrics.leaseTransition("rejected") }
        default:
            break
        }
    }

    static func leaseTransition(bodyStatus: String?) -> String {
        switch bodyStatus {
        case "acquired": "acquired"
        case "polling", "in_progress": "polling"
        default: "finished"
        }
    }

    /// The top-level `"status"` string of a JSON object answer, found by one pass that tracks
    /// nesting and strings (a client's `metadata` may hold a `status` of its own).
    package static func statusField(_ buffer: ByteBuffer) -> String? {
        let bytes = Array(buffer.readableBytesView)
        var depth = 0
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "\""):
                let start = i + 1
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                let isKey = end + 1 < bytes.count && bytes[end + 1] == UInt8(ascii: ":")
                if depth == 1, isKey, bytes[start..<min(end, bytes.count)].elementsEqual("status".utf8),
                    end + 2 < bytes.count, bytes[end + 2] == UInt8(ascii: "\"")
                {
                    let valueStart = end + 3
                    guard let valueEnd = bytes[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                    return String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self)
                }
                i = end
            default: break
            }
            i += 1
        }
        return nil
    }
}
