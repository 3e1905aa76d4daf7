import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import OnceCore

/// Calls a tool backend (API §10.3): POST of the call as JSON, signed with HMAC-SHA256 of the
/// exact body bytes under the tool's secret; `timeout_ms` per attempt; up to `max_retries`
/// more attempts on a network error, a timeout, 429 or 5xx (never on another 4xx), 0.5 s × 2ⁿ
/// apart, capped at 5 s; the same body, and so the same `request_id`, on every attempt.
struct ToolDispatcher: Sendable {
    /// Redirects are refused: a redirect could lead past the outbound-URL rule.
    // HTTPClient is Sendable; this one lives as long as the process, like HTTPClient.shared.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    var allowPrivateURLs: Bool
    var retryBaseDelay: Duration

    enum Outcome: Sendable, Equatable {
        case success(JSONValue)
        case failure(String)
    }

    /// The request body: the arguments under `args`, plus what lets a receiver dedupe.
    static func body(
        tool: String, agentId: String, runId: String?, requestId: String, ts: Int64, args: [String: JSONValue]
    )
        -> [UInt8]
    {
        let object: JSONValue = .object([
            "tool": .string(tool), "agent_id": .string(agentId), "run_id": runId.map(JSONValue.string) ?? .null,
            "request_id": .string(requestId), "ts": .int(ts), "args": .object(args),
        ])
        return Array(object.canonicalText.utf8)
    }

    /// Lowercase hex HMAC-SHA256 of `body` under `secret` (UTF-8).
    static func signature(secret: String, body: [UInt8]) -> String {
        let mac = HMAC<Crypto.SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    func call(_ tool: ToolRecord, secret: String, body: [UInt8]) async -> Outcome {
        if let problem = ToolURLRule.problem(tool.url, allowPrivate: allowPrivateURLs) { return .failure(problem) }
        var lastFailure = "tool backend not called"
        for attempt in 0...max(0, tool.maxRetries) {
            if attempt > 0 {
                let factor = Double(1 << min(attempt - 1, 10))
                let delay = min(retryBaseDelay * factor, .seconds(5))
                do { try await Task.sleep(for: delay) } catch { return .failure("canceled") }
            }
            switch await attemptCall(tool, secret: secret, body: body) {
            case .success(let value): return .success(value)
            case .final(let why): return .failure(why)
            case .transient(let why): lastFailure = why
            }
        }
        return .failure(lastFailure)
    }

    private enum Attempt {
        case success(JSONValue)
        case transient(String)
        case final(String)
    }

    private func attemptCall(_ tool: ToolRecord, secret: String, body: [UInt8]) async -> Attempt {
        var request = HTTPClientRequest(url: tool.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-OnceOnly-Signature", value: Self.signature(secret: secret, body: body))
        request.headers.add(name: "X-OnceOnly-Signature-Alg", value: "hmac_sha256")
        request.headers.add(name: "X-OnceOnly-Timestamp", value: String(Int64(Date().timeIntervalSince1970)))
        request.headers.add(name: "User-Agent", value: "once-server")
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + .milliseconds(Int64(tool.timeoutMs))
        let status: UInt
        let bytes: ByteBuffer
        do {
            let response = try await Self.client.execute(request, deadline: deadline)
            status = response.status.code
            bytes = try await response.body.collect(upTo: Rules.maxResultBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .transient("timeout after \(tool.timeoutMs) ms")
        } catch {
            return .transient("network error: \(error)")
        }
        guard (200..<300).contains(status) else {
            let why = "tool backend answered HTTP \(status)"
            return status == 429 || status >= 500 ? .transient(why) : .final(why)
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView)) else {
            return .transient("tool backend answered invalid JSON")
        }
        if case .object = value { return .success(value) }
        return .success(.object(["value": value]))
    }
}

/// Which tool URLs once-server calls (API §15 row 25): http and https only, and no loopback,
/// private or link-local address literal unless the operator allows them
/// (`--allow-private-tool-urls`). A name is not resolved here: a DNS name that points into a
/// private range is not caught.
enum ToolURLRule {
    static func problem(_ text: String, allowPrivate: Bool) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { return "url must be an http or https URL" }
        guard let host = url.host?.lowercased(), !host.isEmpty else { return "url must name a host" }
        if allowPrivate { return nil }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare.hasSuffix(".localhost") || isPrivate(bare) {
            return
                "url points at a loopback or private address (start once-server with --allow-private-tool-urls to allow it)"
        }
        return nil
    }

    static func isPrivate(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        if parts.count == 4, parts.allSatisfy({ $0 != nil }) {
            let a = parts.map { $0 ?? 0 }
            return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (16...31).contains(a[1]))
                || (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254)
                || (a[0] == 100 && (64...127).contains(a[1]))
        }
        guard host.contains(":") else { return false }
        let h = host.lowercased()
        return h == "::1" || h == "::" || h.hasPrefix("fc") || h.hasPrefix("fd") || h.hasPrefix("fe8")
            || h.hasPrefix("fe9") || h.hasPrefix("fea") || h.hasPrefix("feb") || h.hasPrefix("::ffff:")
    }
}
