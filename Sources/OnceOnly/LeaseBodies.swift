/// The request bodies of the lease endpoints (`/ai/lease`, `/ai/extend`, `/ai/complete`,
/// `/ai/fail`, `/ai/cancel`), built in one place for ``AIClient``'s raw calls and
/// ``LeaseClient``'s typed ones. Optional fields are left out when `nil`, as the TypeScript SDK
/// does; the once-server extensions (`retry_failed`, `result` on fail, `run_events`) only when
/// asked for.
enum LeaseBodies {
    static func lease(key: String, ttl: Int?, metadata: JSONObject?, retryFailed: Bool) -> JSONObject {
        var body: JSONObject = ["key": .string(key)]
        body["ttl"] = ttl.map(JSON.int)
        body["metadata"] = metadata.map(JSON.object)
        if retryFailed { body["retry_failed"] = true }
        return body
    }

    static func extend(key: String, leaseId: String, ttl: Int?) -> JSONObject {
        var body = holder(key, leaseId)
        body["ttl"] = ttl.map(JSON.int)
        return body
    }

    static func complete(
        key: String, leaseId: String, result: JSONObject?, resultHash: String?, runEvents: [RunEventAttachment]? = nil
    ) -> JSONObject {
        var body = holder(key, leaseId)
        body["result_hash"] = resultHash.map(JSON.string)
        body["result"] = result.map(JSON.object)
        attach(runEvents, to: &body)
        return body
    }

    static func fail(
        key: String, leaseId: String, errorCode: String, errorHash: String?, result: JSON? = nil,
        runEvents: [RunEventAttachment]? = nil
    ) -> JSONObject {
        var body = holder(key, leaseId)
        body["error_code"] = .string(errorCode)
        body["error_hash"] = errorHash.map(JSON.string)
        body["result"] = result
        attach(runEvents, to: &body)
        return body
    }

    /// An empty `reason` is not sent.
    static func cancel(
        key: String, leaseId: String, reason: String?, runEvents: [RunEventAttachment]? = nil
    ) -> JSONObject {
        var body = holder(key, leaseId)
        if let reason, !reason.isEmpty { body["reason"] = .string(reason) }
        attach(runEvents, to: &body)
        return body
    }

    private static func holder(_ key: String, _ leaseId: String) -> JSONObject {
        ["key": .string(key), "lease_id": .string(leaseId)]
    }

    /// `run_events`, when there are any: an empty list would ask for an acknowledgement of nothing.
    private static func attach(_ events: [RunEventAttachment]?, to body: inout JSONObject) {
        guard let events, !events.isEmpty else { return }
        body[RunEventAttachment.field] = .array(events.map(\.json))
    }
}
