import OnceCore

/// Storage for everything once-server keeps. Each mutating call applies one engine transition
/// atomically (record, counters, feed and run events in one transaction) and returns only
/// after it is committed.
///
/// Implementations: ``SQLiteStore`` (embedded default). Every implementation must pass the
/// conformance suite in `Tests/OnceStoreTests`.
public protocol OnceStorage: Sendable {
    /// The store's clock: the one clock that decides expiry (ARCHITECTURE invariant 1).
    func now() -> Timestamp

    // MARK: Accounts and keys
    func createKey(plan: Plan, name: String?, accountId: Int64?) async throws -> CreatedKey
    func listKeys() async throws -> [APIKeyInfo]
    /// Revokes by key id, by the full key, or by its preview; returns the revoked key.
    func revokeKey(_ reference: String) async throws -> APIKeyInfo?
    func authenticate(apiKey: String) async throws -> Authentication

    // MARK: Check-locks and leases
    func checkLock(account: AccountContext, key: String, ttl: Int, metadata: JSONValue?, requestId: String?)
        async throws -> CheckLockReply
    func lease(account: AccountContext, key: String, command: LeaseCommand, requestId: String?)
        async throws -> LeaseReply
    /// The record as a reader sees it now (expiry applied), or nil when absent.
    func leaseRecord(account: AccountContext, key: String) async throws -> LeaseRecord?

    // MARK: Runs and events
    func appendRunEvent(account: AccountContext, _ event: RunEvent) async throws -> Int64
    func runTimeline(account: AccountContext, runId: String, limit: Int, offset: Int) async throws -> RunTimeline
    func listRuns(account: AccountContext, limit: Int, offset: Int, prefix: String?) async throws -> RunList
    func feed(account: AccountContext, limit: Int, offset: Int) async throws -> [StoredFeedEvent]

    // MARK: Usage and account
    func usage(account: AccountContext, month: String) async throws -> [UsageKind: UsageCounters]
    func metrics(account: AccountContext, fromDay: String, toDay: String) async throws -> [String: DayMetrics]
    func accountSummary(account: AccountContext) async throws -> AccountSummary
    func updateNotifications(account: AccountContext, _ update: NotificationUpdate) async throws
        -> NotificationSettings

    // MARK: Maintenance
    /// One bounded pass of retention; returns how much it removed. Call repeatedly until zero.
    func sweep(batchSize: Int) async throws -> SweepReport
}

/// The authenticated caller: every row it reads or writes is scoped by `accountId`.
public struct AccountContext: Sendable, Equatable {
    public var accountId: Int64
    public var keyId: Int64
    public var plan: Plan
    public var keyPreview: String

    public init(accountId: Int64, keyId: Int64, plan: Plan, keyPreview: String) {
        self.accountId = accountId
        self.keyId = keyId
        self.plan = plan
        self.keyPreview = keyPreview
    }
}

public enum Authentication: Sendable, Equatable {
    case valid(AccountContext)
    case revoked
    case unknown
}

public struct CreatedKey: Sendable {
    /// The secret, shown once; only its hash is stored.
    public var key: String
    public var info: APIKeyInfo
}

public struct APIKeyInfo: Sendable, Equatable {
    public var id: Int64
    public var accountId: Int64
    public var plan: Plan
    public var name: String?
    public var preview: String
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?
}

public struct UsageCounters: Sendable, Equatable {
    public var usage: Int64 = 0
    public var requests: Int64 = 0
    public var blocked: Int64 = 0
    public var charged: Int64 = 0
    public var polling: Int64 = 0
    public init() {}
}

public struct DayMetrics: Sendable, Equatable {
    public var checksTotal: Int64 = 0
    public var locksCreated: Int64 = 0
    public var duplicatesBlocked: Int64 = 0
    public var rateLimited: Int64 = 0
    public var aiAcquired: Int64 = 0
    public var aiCompleted: Int64 = 0
    public var aiFailed: Int64 = 0
    public init() {}
}

public struct StoredRunEvent: Sendable, Equatable {
    public var id: Int64
    public var event: RunEvent
}

public struct RunTimeline: Sendable, Equatable {
    public var total: Int
    public var events: [StoredRunEvent]
}

public struct RunSummary: Sendable, Equatable {
    public var runId: String
    public var lastTs: Timestamp
    public var lastType: String
    public var lastStatus: String?
    public var eventsCount: Int
}

public struct RunList: Sendable, Equatable {
    public var total: Int
    public var items: [RunSummary]
}

public struct StoredFeedEvent: Sendable, Equatable {
    public var id: Int64
    public var reqId: String?
    public var event: FeedEvent
}

public struct NotificationSettings: Sendable, Equatable {
    public var email: Bool
    public var toolErrors: Bool
    public var runFailures: Bool
    public init(email: Bool, toolErrors: Bool, runFailures: Bool) {
        self.email = email
        self.toolErrors = toolErrors
        self.runFailures = runFailures
    }
}

/// A partial update; nil leaves a flag as it is.
public struct NotificationUpdate: Sendable, Equatable {
    public var email: Bool?
    public var toolErrors: Bool?
    public var runFailures: Bool?
    public init(email: Bool? = nil, toolErrors: Bool? = nil, runFailures: Bool? = nil) {
        self.email = email
        self.toolErrors = toolErrors
        self.runFailures = runFailures
    }
}

public struct AccountSummary: Sendable, Equatable {
    public var plan: Plan
    public var email: String?
    public var requestsAllTime: Int64
    public var blockedAllTime: Int64
    public var notifications: NotificationSettings
}

public struct SweepReport: Sendable, Equatable {
    public var leasesExpired = 0
    public var leasesPurged = 0
    public var checkLocksRemoved = 0
    public var feedEventsRemoved = 0
    public var runEventsRemoved = 0
    public init() {}
    public var total: Int { leasesExpired + leasesPurged + checkLocksRemoved + feedEventsRemoved + runEventsRemoved }
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case unknownAccount(Int64)
    case invalidReference(String)

    public var description: String {
        switch self {
        case .unknownAccount(let id): "no account with id \(id)"
        case .invalidReference(let r): "no API key matches \(r)"
        }
    }
}
