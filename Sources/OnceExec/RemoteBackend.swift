import Foundation
import OnceCore
import OnceOnly

/// Leases on a once-server shared by many hosts, through the Swift SDK's transport.
public struct RemoteBackend: LeaseBackend {
    let client: OnceOnlyClient

    public var name: String { "server \(client.baseURL)" }

    /// - Parameter timeout: per request; renewals must get an answer well inside the lease.
    public init(baseURL: String, apiKey: String, timeout: Double = 5) throws {
        client = try OnceOnlyClient(
            apiKey: apiKey, baseURL: baseURL, timeout: timeout, failOpen: false, maxRetries429: 0)
    }

    /// POSTs or GETs, mapping "no answer" and 5xx to ``BackendError/unreachable(_:)``; a 409 or
    /// 404 comes back as a value because for leases they are answers, not failures.
    private func call(_ method: String, _ path: String, query: [String: String] = [:], body: JSONObject? = nil)
        async throws(BackendError) -> (status: Int, json: JSONObject)
    {
        do {
            return try await client.request(method: method, path: path, query: query, body: body)
        } catch let error as OnceOnlyError {
            if error.isServiceUnreachable { throw .unreachable(error.message) }
            guard let status = error.statusCode else { throw .unreachable(error.message) }
            if status >= 500 { throw .unreachable("HTTP \(status): \(error.message)") }
            if status == 409 || status == 404 { return (status, error.detail ?? [:]) }
            throw .refused(status: status, message: error.message)
        } catch {
            throw .unreachable("\(error)")
        }
    }

    public func acquire(key: String, ttl: Int, runId: String, retryFailed: Bool) async throws(BackendError)
        -> AcquireResult
    {
        var body: JSONObject = ["key": .string(key), "ttl": .int(ttl), "metadata": .object(["run_id": .string(runId)])]
        if retryFailed { body["retry_failed"] = .bool(true) }
        let (_, json) = try await call("POST", "/ai/lease", body: body)
        switch json["status"]?.stringValue {
        case "acquired":
            guard let leaseId = json["lease_id"]?.stringValue, let version = json["version"]?.intValue else {
                throw .refused(status: 200, message: "acquired answer without lease_id/version")
            }
            return .acquired(
                Lease(key: key, leaseId: leaseId, version: Int64(version), ttl: json["ttl"]?.intValue ?? ttl))
        case "completed", "failed":
            // The lease answer has no result; the status read brings the stored record.
            if let status = try await status(key: key) { return .finished(status) }
            return .finished(Self.status(json))
        default:
            return .held(ttlLeft: json["ttl_left"]?.intValue)
        }
    }

    public func extend(key: String, leaseId: String, ttl: Int) async throws(BackendError) -> RenewResult {
        let (status, json) = try await call(
            "POST", "/ai/extend", body: ["key": .string(key), "lease_id": .string(leaseId), "ttl": .int(ttl)])
        return status == 200 ? .renewed : .rejected(Self.describe(json))
    }

    public func complete(key: String, leaseId: String, record: JSONValue) async throws(BackendError) -> FinishResult {
        try await finish(
            "/ai/complete", ["key": .string(key), "lease_id": .string(leaseId), "result": JSON(record)])
    }

    public func fail(key: String, leaseId: String, errorCode: String, record: JSONValue) async throws(BackendError)
        -> FinishResult
    {
        // `result` on /ai/fail is once-server's extension; other servers ignore it.
        try await finish(
            "/ai/fail",
            [
                "key": .string(key), "lease_id": .string(leaseId), "error_code": .string(errorCode),
                "result": JSON(record),
            ])
    }

    public func cancel(key: String, leaseId: String, reason: String) async throws(BackendError) -> FinishResult {
        try await finish("/ai/cancel", ["key": .string(key), "lease_id": .string(leaseId), "reason": .string(reason)])
    }

    private func finish(_ path: String, _ body: JSONObject) async throws(BackendError) -> FinishResult {
        let (status, json) = try await call("POST", path, body: body)
        return status == 200 ? .done : .rejected(Self.describe(json))
    }

    public func status(key: String) async throws(BackendError) -> KeyStatus? {
        let (status, json) = try await call("GET", "/ai/status", query: ["key": key])
        if status == 404 { return nil }
        var result = Self.status(json)
        if result.status == "completed" || result.status == "failed" {
            let (_, stored) = try await call("GET", "/ai/result", query: ["key": key])
            result.result = stored["result"].map(JSONValue.init)
        }
        return result
    }

    static func status(_ json: JSONObject) -> KeyStatus {
        KeyStatus(
            status: json["status"]?.stringValue ?? "unknown", version: Int64(json["version"]?.intValue ?? 0),
            errorCode: json["error_code"]?.stringValue, doneAt: json["done_at"]?.stringValue,
            firstSeenAt: json["first_seen_at"]?.stringValue, ttlLeft: json["ttl_left"]?.intValue)
    }

    static func describe(_ detail: JSONObject) -> String {
        let code = detail["error"]?.stringValue ?? "conflict"
        return detail["message"]?.stringValue.map { "\(code): \($0)" } ?? code
    }

    public func record(runId: String, event: RunEvent) async {
        // No `ts`: the server stamps its own time, which orders these events among its own
        // run_started/run_finished (whole client seconds would sort before them).
        var body: JSONObject = ["run_id": .string(runId), "type": .string(event.type)]
        if let s = event.status { body["status"] = .string(s) }
        if let m = event.message { body["message"] = .string(m) }
        if let l = event.leaseId { body["lease_id"] = .string(l) }
        if let d = event.data { body["data"] = JSON(d) }
        _ = try? await call("POST", "/events", body: body)
    }

    public func timeline(runId: String) async throws(BackendError) -> [StoredEvent] {
        let encoded = runId.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? runId
        let (_, json) = try await call("GET", "/runs/\(encoded)", query: ["limit": "2000"])
        return (json["events"]?.arrayValue ?? []).map { e in
            StoredEvent(
                id: Int64(e["id"]?.intValue ?? 0), ts: Int64(e["ts"]?.intValue ?? 0),
                type: e["type"]?.stringValue ?? "",
                status: e["status"]?.stringValue, message: e["message"]?.stringValue,
                data: e["data"].map(JSONValue.init))
        }
    }
}

// The SDK keeps its own JSON type (it must not depend on the engine); convert at the edge.
extension JSON {
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(Int(i))
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(JSON.init))
        case .object(let o): self = .object(o.mapValues(JSON.init))
        }
    }
}

extension JSONValue {
    init(_ json: JSON) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(Int64(i))
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(JSONValue.init))
        case .object(let o): self = .object(o.mapValues(JSONValue.init))
        }
    }
}
