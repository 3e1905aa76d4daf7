import OnceCore

/// Where once-exec's leases live: the embedded SQLite store (``LocalBackend``) or a shared
/// once-server (``RemoteBackend``). Both run the same engine rules, so a run behaves the same
/// on either.
package protocol LeaseBackend: Sendable {
    /// A short description for messages (`local store /path` or `server http://…`).
    var name: String { get }

    /// Takes the lease; `holder` goes into its metadata beside `run_id`, so whoever looks at a
    /// held lease (status, the dashboard) sees which host runs which command.
    func acquire(key: String, ttl: Int, runId: String, retryFailed: Bool, holder: LeaseHolder)
        async throws(BackendError) -> AcquireResult
    func extend(key: String, leaseId: String, ttl: Int) async throws(BackendError) -> RenewResult
    func complete(key: String, leaseId: String, record: JSONValue) async throws(BackendError) -> FinishResult
    func fail(key: String, leaseId: String, errorCode: String, record: JSONValue) async throws(BackendError)
        -> FinishResult
    func cancel(key: String, leaseId: String, reason: String) async throws(BackendError) -> FinishResult
    /// The key's state, or nil when it was never used (or retention removed it).
    func status(key: String) async throws(BackendError) -> KeyStatus?
    /// Appends to a run timeline; best effort, never fails the run.
    func record(runId: String, event: RunEvent) async
    func timeline(runId: String) async throws(BackendError) -> [StoredEvent]
    /// Keeps one attempt's record as a `run_record` event of its run (best effort).
    func recordRun(runId: String, record: JSONValue) async
    /// Runs, most recently active first: a page of ids with their last event's time (ms).
    func runPage(limit: Int, offset: Int) async throws(BackendError) -> [RunPageItem]
    /// Offers what the finish that follows should write with it: `events`, the end of the
    /// run's timeline (`child_exited`, and what was not posted while the child ran), and
    /// `record`, the attempt's history record as it will read if the finish is recorded. Each
    /// backend writes them in the finish's own transaction when it can (the local store: one
    /// commit less; once-server's `run_events` extension: no round trip after the finish).
    func stageFinish(runId: String, events: [RunEvent], record: JSONValue)
    /// After the finish: appends the staged events it did not write (best effort, in order).
    func flushStagedEvents() async
    /// Whether a finish wrote the staged record; the caller then does not ``recordRun(runId:record:)``.
    func stagedRunRecordWritten() -> Bool
}

extension RunEvent {
    /// The `run_record` event that keeps one attempt's history record.
    package static func runRecord(runId: String, ts: Timestamp, record: JSONValue) -> RunEvent {
        RunEvent(
            runId: runId, type: RunRecord.eventType, ts: ts, status: record["outcome"]?.stringValue,
            message: record["message"]?.stringValue.map { String($0.prefix(4096)) }, data: record)
    }
}

/// Who takes a lease: this host and the command it runs.
package struct LeaseHolder: Sendable, Equatable {
    package var host: String
    package var argv: [String]

    package init(host: String, argv: [String]) {
        self.host = host
        self.argv = argv
    }

    /// The lease metadata: `run_id`, `host` and `argv` (at most 32 arguments of 256 characters each,
    /// so a long command line cannot push the metadata past the API's size limit).
    package func metadata(runId: String) -> JSONValue {
        let args = argv.prefix(32).map { JSONValue.string(String($0.prefix(256))) }
        return .object(["run_id": .string(runId), "host": .string(host), "argv": .array(Array(args))])
    }

    package static let none = LeaseHolder(host: "", argv: [])
}

package struct RunPageItem: Sendable, Equatable {
    package var runId: String
    /// Unix milliseconds (the server reports seconds; they are scaled).
    package var lastTs: Int64
}

package enum BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The service did not answer (connection refused, timeout, 5xx).
    case unreachable(String)
    /// It answered with a refusal that is not about the lease (auth, quota, validation).
    case refused(status: Int, message: String)
    /// The local store failed.
    case storage(String)
    /// The local store stayed locked by another process past its busy timeout.
    case busy(String)

    package var description: String {
        switch self {
        case .unreachable(let m): "lease service unreachable: \(m)"
        case .refused(_, let m): "lease service refused the request: \(m)"
        case .storage(let m): "local store error: \(m)"
        case .busy(let m): "local store busy: \(m)"
        }
    }
}

package struct Lease: Sendable, Equatable {
    package var key: String
    package var leaseId: String
    /// The fencing token: strictly increasing per key.
    package var version: Int64
    package var ttl: Int

    package init(key: String, leaseId: String, version: Int64, ttl: Int) {
        self.key = key
        self.leaseId = leaseId
        self.version = version
        self.ttl = ttl
    }
}

package enum AcquireResult: Sendable, Equatable {
    case acquired(Lease)
    /// Someone else holds it; `ttlLeft` seconds at most until it lapses.
    case held(ttlLeft: Int?)
    /// It is finished and stays so (completed, or failed without `retryFailed`).
    case finished(KeyStatus)
}

package enum RenewResult: Sendable, Equatable {
    case renewed
    /// The lease is not this run's any more.
    case rejected(String)
}

package enum FinishResult: Sendable, Equatable {
    case done
    case rejected(String)
}

/// A key's state as once-exec reports it.
package struct KeyStatus: Sendable, Equatable {
    /// `in_progress`, `completed`, `failed`, `canceled`.
    package var status: String
    package var version: Int64
    package var errorCode: String?
    package var doneAt: String?
    package var firstSeenAt: String?
    package var ttlLeft: Int?
    /// The stored run record (see ``RunRecord``), when the run stored one.
    package var result: JSONValue?

    package init(
        status: String, version: Int64, errorCode: String? = nil, doneAt: String? = nil, firstSeenAt: String? = nil,
        ttlLeft: Int? = nil, result: JSONValue? = nil
    ) {
        self.status = status
        self.version = version
        self.errorCode = errorCode
        self.doneAt = doneAt
        self.firstSeenAt = firstSeenAt
        self.ttlLeft = ttlLeft
        self.result = result
    }
}

package struct StoredEvent: Sendable, Equatable {
    package var id: Int64
    package var ts: Int64
    package var type: String
    package var status: String?
    package var message: String?
    package var data: JSONValue?
}
