/// Counter increments a transition causes. Stores add them to the month's usage row and the
/// day's metrics row in the same transaction as the state change.
public struct CounterDelta: Sendable, Equatable {
    public var makeUsage: Int64 = 0
    public var makeRequests: Int64 = 0
    public var makeBlocked: Int64 = 0
    public var aiUsage: Int64 = 0
    public var aiRequests: Int64 = 0
    public var aiBlocked: Int64 = 0
    public var aiCharged: Int64 = 0
    public var aiPolling: Int64 = 0
    // Daily metrics (API §12.3).
    public var checksTotal: Int64 = 0
    public var locksCreated: Int64 = 0
    public var duplicatesBlocked: Int64 = 0
    public var rateLimited: Int64 = 0
    public var aiAcquired: Int64 = 0
    public var aiCompleted: Int64 = 0
    public var aiFailed: Int64 = 0

    public init() {}

    public var isZero: Bool { self == CounterDelta() }

    public static func + (a: CounterDelta, b: CounterDelta) -> CounterDelta {
        var r = CounterDelta()
        r.makeUsage = a.makeUsage + b.makeUsage
        r.makeRequests = a.makeRequests + b.makeRequests
        r.makeBlocked = a.makeBlocked + b.makeBlocked
        r.aiUsage = a.aiUsage + b.aiUsage
        r.aiRequests = a.aiRequests + b.aiRequests
        r.aiBlocked = a.aiBlocked + b.aiBlocked
        r.aiCharged = a.aiCharged + b.aiCharged
        r.aiPolling = a.aiPolling + b.aiPolling
        r.checksTotal = a.checksTotal + b.checksTotal
        r.locksCreated = a.locksCreated + b.locksCreated
        r.duplicatesBlocked = a.duplicatesBlocked + b.duplicatesBlocked
        r.rateLimited = a.rateLimited + b.rateLimited
        r.aiAcquired = a.aiAcquired + b.aiAcquired
        r.aiCompleted = a.aiCompleted + b.aiCompleted
        r.aiFailed = a.aiFailed + b.aiFailed
        return r
    }
}

/// One item of the namespace activity feed (API §11.3).
public struct FeedEvent: Sendable, Equatable {
    public var ts: Timestamp
    public var type: String
    public var key: String
    /// Further fields (`lease_id`, `version`, `usage`, …) as they appear on the wire.
    public var fields: [String: JSONValue]

    public init(ts: Timestamp, type: String, key: String, fields: [String: JSONValue] = [:]) {
        self.ts = ts
        self.type = type
        self.key = key
        self.fields = fields
    }
}

/// One run-timeline event (API §11.1), before the store gives it an id.
public struct RunEvent: Sendable, Equatable {
    public var runId: String
    public var type: String
    public var ts: Timestamp
    public var status: String?
    public var step: String?
    public var tool: String?
    public var reqId: String?
    public var leaseId: String?
    public var agentId: String?
    public var message: String?
    public var durationMs: Int64?
    public var data: JSONValue?

    public init(
        runId: String, type: String, ts: Timestamp, status: String? = nil, step: String? = nil, tool: String? = nil,
        reqId: String? = nil, leaseId: String? = nil, agentId: String? = nil, message: String? = nil,
        durationMs: Int64? = nil, data: JSONValue? = nil
    ) {
        self.runId = runId
        self.type = type
        self.ts = ts
        self.status = status
        self.step = step
        self.tool = tool
        self.reqId = reqId
        self.leaseId = leaseId
        self.agentId = agentId
        self.message = message
        self.durationMs = durationMs
        self.data = data
    }
}

/// Everything besides the record that a transition asks the store to write.
public struct Effects: Sendable, Equatable {
    public var counters = CounterDelta()
    public var feed: [FeedEvent] = []
    public var runEvents: [RunEvent] = []

    public init() {}

    public static func + (a: Effects, b: Effects) -> Effects {
        var r = Effects()
        r.counters = a.counters + b.counters
        r.feed = a.feed + b.feed
        r.runEvents = a.runEvents + b.runEvents
        return r
    }
}
