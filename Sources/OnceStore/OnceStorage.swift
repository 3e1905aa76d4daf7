import OnceCore

/// Storage for everything once-server keeps, as a handful of primitives.
///
/// A store knows SQL, not lease rules. For leases and check-locks it offers one primitive each:
/// *apply one transition to one key atomically*. It reads the key's record under a lock (or in
/// a serialized transaction), hands it with the store's clock and the month's usage to a pure
/// `decide` function, and persists the record and the ``Effects`` that come back in the same
/// transaction, returning only after the commit. The rules themselves (which transition, which
/// counters, the sweep, what a reader sees) run above every store, in ``OnceStorage``'s
/// service extension (`OnceStorage+Service.swift`), so a new store adds SQL and nothing else.
///
/// Errors: every method throws ``StoreError`` only; each store maps its database's errors once.
///
/// Implementations: ``SQLiteStore`` (embedded default) and `PostgresStore` (module
/// `OncePostgres`). Every implementation must pass the conformance suite in `Tests/OnceStoreTests`.
public protocol OnceStorage: ToolStorage {
    /// The store's clock, as well as it can be read without a round trip: the one clock that
    /// decides expiry (ARCHITECTURE invariant 1). Decisions use the `now` handed to `decide`.
    func now() -> Timestamp

    /// Whether usage counters, daily metrics and the activity feed are kept. once-server keeps
    /// them for its API; once-exec's local store does not, so a skipped run writes nothing.
    var recordsActivity: Bool { get }

    /// Installs who learns of each committed write transaction (nil removes it).
    func observeCommits(_ observer: CommitObserver?)

    // MARK: Accounts and keys
    func createKey(plan: Plan, name: String?, accountId: Int64?) async throws -> CreatedKey
    func listKeys() async throws -> [APIKeyInfo]
    /// Revokes by key id, by the full key, or by its preview; returns the revoked key.
    func revokeKey(_ reference: String) async throws -> APIKeyInfo?
    func authenticate(apiKey: String) async throws -> Authentication

    // MARK: The two transition primitives
    /// Applies `decide` to the lease of (`accountId`, `key`) atomically; `usage` in the
    /// ``TransactionInput`` is the account's AI usage this month.
    ///
    /// `apiKeyId`: the caller's API key (nil for callers without one: the sweep, once-exec).
    /// The store re-reads it in the same database visit as the record, before anything is
    /// decided: a key revoked since the caller was authenticated (by another process, too) is
    /// refused with ``StoreError/keyRevoked`` and nothing is written. This is what lets the
    /// server keep authenticated keys in memory and still refuse a revoked key at once.
    func transactLease<Reply: Sendable & Equatable>(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (LeaseRecord?, TransactionInput) -> LeaseTransition<Reply>
    ) async throws -> Decided<LeaseTransition<Reply>>

    /// Applies `decide` to the check-lock of (`accountId`, `key`) atomically; `usage` is the
    /// account's check-lock usage this month. `apiKeyId` as in ``transactLease(accountId:key:requestId:apiKeyId:_:)``.
    func transactCheckLock(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (CheckLockRecord?, TransactionInput) -> CheckLockTransition
    ) async throws -> Decided<CheckLockTransition>

    /// The stored record (as stored: expiry not applied) and the store's clock.
    func readLease(accountId: Int64, key: String) async throws -> Decided<LeaseRecord?>

    // MARK: Runs and events
    /// Appends events to run timelines in one transaction; returns their ids in order.
    func appendRunEvents(accountId: Int64, _ events: [RunEvent], requestId: String?) async throws -> [Int64]
    func runTimeline(account: AccountContext, runId: String, limit: Int, offset: Int) async throws -> RunTimeline
    func listRuns(account: AccountContext, limit: Int, offset: Int, prefix: String?) async throws -> RunList
    func feed(account: AccountContext, limit: Int, offset: Int) async throws -> [StoredFeedEvent]

    // MARK: Usage and account
    func usage(account: AccountContext, month: String) async throws -> [UsageKind: UsageCounters]
    func metrics(account: AccountContext, fromDay: String, toDay: String) async throws -> [String: DayMetrics]
    func accountSummary(account: AccountContext) async throws -> AccountSummary
    func updateNotifications(account: AccountContext, _ update: NotificationUpdate) async throws
        -> NotificationSettings

    /// Writes effects that belong to no lease or check-lock (a 429's `rate_limited` metric,
    /// a governed call's usage) in one transaction, dated by the store's clock.
    func record(accountId: Int64, _ effects: Effects) async throws

    // MARK: Governance (API §7–9)
    /// Applies `decide` to the policy of (`accountId`, `agentId`) atomically: it receives the
    /// stored policy object (nil when none) and the names of every tool registered in the
    /// account; `.stored` is written, `.unknownTools` writes nothing.
    func transactPolicy(
        accountId: Int64, agentId: String,
        _ decide: @escaping @Sendable ([String: JSONValue]?, Set<String>) -> PolicyWrite
    ) async throws -> PolicyWrite
    /// Stored policies by agent id, ascending; only `agentId`'s when given.
    func policies(accountId: Int64, agentId: String?) async throws -> [(agentId: String, policy: [String: JSONValue])]
    /// Turns the kill switch off (`enabled`) or on. Idempotent: disabling a disabled agent
    /// keeps its first reason and time.
    func setAgentEnabled(accountId: Int64, agentId: String, enabled: Bool, reason: String?) async throws -> AgentState
    func agentState(accountId: Int64, agentId: String) async throws -> AgentState
    func appendDecisions(accountId: Int64, _ decisions: [AgentDecision]) async throws
    /// Newest first.
    func agentLogs(accountId: Int64, agentId: String, limit: Int) async throws -> [AgentDecision]
    /// Decisions with `ts` after the store's clock minus `seconds`.
    func agentMetrics(accountId: Int64, agentId: String, sinceSecondsAgo seconds: Int) async throws -> AgentMetrics

    // MARK: Dashboard reads (keyset pages; `DashboardReads.swift`)
    /// Leases held now (state held, deadline after the store's clock), by key, after `afterKey`.
    func heldLeases(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[LeaseRecord]>
    /// Stored check-locks (live or expired but not yet swept), by key, after `afterKey`.
    func checkLocks(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[CheckLockRecord]>
    /// Runs newest first (as ``listRuns(account:limit:offset:prefix:)``), narrowed by `filter`,
    /// strictly after `cursor`.
    func runsPage(accountId: Int64, filter: RunFilter, after cursor: RunCursor?, limit: Int) async throws
        -> [RunPageItem]
    /// Feed events newest first with an id below `beforeId`, of the given types (all when empty).
    func feedPage(accountId: Int64, types: [String], beforeId: Int64?, limit: Int) async throws -> [StoredFeedEvent]
    /// Feed events of the last `seconds` by the store's clock, counted by type and error code.
    func feedCounts(accountId: Int64, sinceSecondsAgo seconds: Int) async throws -> [FeedCount]
    /// Leases held now in every account (for the `once_leases_held` gauge).
    func heldLeaseCount() async throws -> Int

    // MARK: Maintenance
    /// Up to `limit` keys whose rows `selection` picks, by the store's clock.
    func leaseKeys(_ selection: LeaseSelection, limit: Int) async throws -> [LeaseKey]
    /// Deletes up to `limit` rows past their retention, by the store's clock; returns how many.
    func removeExpired(_ rows: ExpiringRows, limit: Int) async throws -> Int
    /// Runs `body` unless another process sharing the database is doing maintenance right
    /// now; returns nil then. One replica sweeps at a time.
    func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T?
    /// Whether the database answers now (for `/healthz`).
    func isHealthy() async -> Bool
}

/// What a store hands to `decide` inside its transaction.
public struct TransactionInput: Sendable, Equatable {
    /// The store's clock at this transaction.
    public var now: Timestamp
    /// The account's usage this month of the kind the primitive concerns.
    public var usage: Int64

    public init(now: Timestamp, usage: Int64) {
        self.now = now
        self.usage = usage
    }
}

/// A value decided or read in a store transaction, with the store's clock at that moment.
public struct Decided<Value: Sendable>: Sendable {
    public var value: Value
    public var now: Timestamp

    public init(_ value: Value, now: Timestamp) {
        self.value = value
        self.now = now
    }
}

/// One lease row's address.
public struct LeaseKey: Sendable, Hashable {
    public var accountId: Int64
    public var key: String

    public init(accountId: Int64, key: String) {
        self.accountId = accountId
        self.key = key
    }
}

/// Which lease rows the sweep visits.
public enum LeaseSelection: Sendable, Equatable {
    /// Held, with the deadline passed.
    case heldPastDeadline
    /// Finished (completed, failed, expired or canceled) at least this many seconds ago, by the
    /// store's clock.
    case finished(olderThanSeconds: Int)
}

/// Rows that are deleted outright once past retention (ages by the store's clock).
public enum ExpiringRows: Sendable, Equatable {
    /// Check-locks whose TTL ended.
    case checkLocks
    case feedEvents(olderThanSeconds: Int)
    case runEvents(olderThanSeconds: Int)
    case agentLogs(olderThanSeconds: Int)
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

    /// The API key the transition primitives re-check; nil for an account used without one
    /// (once-exec's local account has key id 0; API keys are numbered from 1).
    public var apiKeyId: Int64? { keyId > 0 ? keyId : nil }
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

    package init(key: String, info: APIKeyInfo) {
        self.key = key
        self.info = info
    }
}

public struct APIKeyInfo: Sendable, Equatable {
    public var id: Int64
    public var accountId: Int64
    public var plan: Plan
    public var name: String?
    public var preview: String
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?

    package init(
        id: Int64, accountId: Int64, plan: Plan, name: String?, preview: String, createdAt: Timestamp,
        revokedAt: Timestamp?
    ) {
        self.id = id
        self.accountId = accountId
        self.plan = plan
        self.name = name
        self.preview = preview
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

public struct UsageCounters: Sendable, Equatable {
    public var usage: Int64 = 0
    public var requests: Int64 = 0
    public var blocked: Int64 = 0
    public var charged: Int64 = 0
    public var polling: Int64 = 0
    public init() {}
}

public struct StoredRunEvent: Sendable, Equatable {
    public var id: Int64
    public var event: RunEvent

    package init(id: Int64, event: RunEvent) {
        self.id = id
        self.event = event
    }
}

public struct RunTimeline: Sendable, Equatable {
    public var total: Int
    public var events: [StoredRunEvent]

    package init(total: Int, events: [StoredRunEvent]) {
        self.total = total
        self.events = events
    }
}

public struct RunSummary: Sendable, Equatable {
    public var runId: String
    public var lastTs: Timestamp
    public var lastType: String
    public var lastStatus: String?
    public var eventsCount: Int

    package init(runId: String, lastTs: Timestamp, lastType: String, lastStatus: String?, eventsCount: Int) {
        self.runId = runId
        self.lastTs = lastTs
        self.lastType = lastType
        self.lastStatus = lastStatus
        self.eventsCount = eventsCount
    }
}

public struct RunList: Sendable, Equatable {
    public var total: Int
    public var items: [RunSummary]

    package init(total: Int, items: [RunSummary]) {
        self.total = total
        self.items = items
    }
}

public struct StoredFeedEvent: Sendable, Equatable {
    public var id: Int64
    public var reqId: String?
    public var event: FeedEvent

    package init(id: Int64, reqId: String?, event: FeedEvent) {
        self.id = id
        self.reqId = reqId
        self.event = event
    }
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

    package init(
        plan: Plan, email: String?, requestsAllTime: Int64, blockedAllTime: Int64, notifications: NotificationSettings
    ) {
        self.plan = plan
        self.email = email
        self.requestsAllTime = requestsAllTime
        self.blockedAllTime = blockedAllTime
        self.notifications = notifications
    }
}

public struct SweepReport: Sendable, Equatable {
    public var leasesExpired = 0
    public var leasesPurged = 0
    public var checkLocksRemoved = 0
    public var feedEventsRemoved = 0
    public var runEventsRemoved = 0
    public var agentLogsRemoved = 0
    public init() {}
    public var total: Int {
        leasesExpired + leasesPurged + checkLocksRemoved + feedEventsRemoved + runEventsRemoved + agentLogsRemoved
    }
}

/// The one error type of the storage layer. Each store maps its database's errors into it once.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The database cannot answer now (busy, locked, unreachable, restarting, timed out). Retryable:
    /// the server answers 503 with `Retry-After`, once-exec's local mode retries.
    case unavailable(String)
    case unknownAccount(Int64)
    /// The caller's API key was revoked after it was authenticated (see `apiKeyId` of the
    /// transition primitives): the server answers as for a revoked key.
    case keyRevoked
    case invalidReference(String)
    /// A stored value does not decode (a bad column, an unknown enum value).
    case corrupt(String)
    /// Anything else the database reported. Never shown to API clients.
    case failure(String)

    public var isRetryable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unavailable(let why): "the database is unavailable: \(why)"
        case .unknownAccount(let id): "no account with id \(id)"
        case .keyRevoked: "the API key was revoked"
        case .invalidReference(let r): "no API key matches \(r)"
        case .corrupt(let what): "a stored value does not decode: \(what)"
        case .failure(let what): "database error: \(what)"
        }
    }
}
