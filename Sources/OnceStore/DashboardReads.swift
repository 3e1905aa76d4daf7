import OnceCore

/// What the dashboard's run list may be narrowed to (all optional, combined with AND).
public struct RunFilter: Sendable, Equatable {
    /// The run's last status (`failed`, `completed`, …).
    public var status: String?
    /// A lease key: runs with an event whose `data.key` is this key (once-server's
    /// `run_started`/`run_finished` and once-exec's `run_record` carry it).
    public var key: String?
    /// Runs with an event of this agent.
    public var agentId: String?

    public init(status: String? = nil, key: String? = nil, agentId: String? = nil) {
        self.status = status
        self.key = key
        self.agentId = agentId
    }
}

/// A keyset position in the run list (newest first): the last row of the previous page.
public struct RunCursor: Sendable, Equatable {
    public var lastTs: Timestamp
    public var lastEventId: Int64

    public init(lastTs: Timestamp, lastEventId: Int64) {
        self.lastTs = lastTs
        self.lastEventId = lastEventId
    }
}

/// One row of the dashboard's run list, with the cursor that continues after it.
public struct RunPageItem: Sendable, Equatable {
    public var summary: RunSummary
    public var cursor: RunCursor

    package init(summary: RunSummary, cursor: RunCursor) {
        self.summary = summary
        self.cursor = cursor
    }
}

/// How many activity-feed events of one type (and error code, for failures) there were.
public struct FeedCount: Sendable, Equatable {
    public var type: String
    /// `fields.error_code`: tells an expiry (`lease_expired`) from other failures.
    public var errorCode: String?
    public var count: Int64

    package init(type: String, errorCode: String?, count: Int64) {
        self.type = type
        self.errorCode = errorCode
        self.count = count
    }
}
