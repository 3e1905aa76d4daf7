import Foundation
import OnceCore
import OnceStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Leases in a SQLite file on this host: like flock, no server. Several once-exec processes
/// share the file; SQLite's locking serialises their transactions.
package struct LocalBackend: LeaseBackend {
    let store: SQLiteStore
    let account: AccountContext
    /// Timeline events wait here and go into the next lease transaction, so a run costs two
    /// commits (acquire, finish) plus one per renewal, not one more per event.
    private let pending = PendingEvents()

    final class PendingEvents: Sendable {
        private let events = Mutex<[RunEvent]>([])
        func add(_ e: RunEvent) { events.withLock { $0.append(e) } }
        func take() -> [RunEvent] {
            events.withLock { e in
                defer { e = [] }; return e
            }
        }
    }

    /// The run record staged for the finish (``stageFinish(runId:events:record:)``), and whether
    /// a finish that applied wrote it.
    private let staged = StagedRecord()

    final class StagedRecord: Sendable {
        private let state = Mutex<(event: RunEvent?, written: Bool)>((nil, false))
        func withLock<T>(_ body: (inout (event: RunEvent?, written: Bool)) -> T) -> T { state.withLock { body(&$0) } }
    }

    package var name: String { "local store \(store.path)" }

    /// Opens the store at `path`, creating and migrating it if needed.
    ///
    /// Openers on one host take turns (``OpenTurn``): wrappers started together on a new file
    /// would otherwise race to switch it to WAL and create its tables, and one of them fails
    /// (a CI run saw "busy" after ten seconds, and "SQLite error 1" from a lost schema race).
    /// Only the open is serialised; transactions of stores already open go on meanwhile.
    /// - Parameter busyTimeout: how long to wait for another process's write transaction on
    ///   the file (or for its turn to open) before the store counts as busy
    ///   (``BackendError/busy(_:)``).
    package static func open(path: String, busyTimeout: Duration = .seconds(10)) async throws(BackendError)
        -> LocalBackend
    {
        try prepare(path)
        let clock = ContinuousClock()
        let deadline = clock.now + busyTimeout
        let turn = try await OpenTurn.take(
            directoryOf: path, until: deadline, clock: clock, busy: busyMessage(path, busyTimeout))
        defer { turn.release() }
        let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
        do {
            let store = try SQLiteStore(path: path, recordsActivity: false, busyTimeout: seconds, shortLived: true)
            return LocalBackend(store: store, account: try store.localAccount(), busyTimeout: busyTimeout)
        } catch {
            if Self.isBusy(error) { throw .busy(Self.busyMessage(path, busyTimeout)) }
            throw .storage("cannot open \(path): \(Self.plain(error))")
        }
    }

    private init(store: SQLiteStore, account: AccountContext, busyTimeout: Duration) {
        self.store = store
        self.account = account
        self.busyTimeout = busyTimeout
    }

    let busyTimeout: Duration

    /// SQLite's busy and locked results, which the store reports as "unavailable".
    static func isBusy(_ error: any Error) -> Bool {
        if case .unavailable? = error as? StoreError { return true }
        return false
    }

    package static func busyMessage(_ path: String, _ timeout: Duration) -> String {
        "\(path) stayed locked by another process for \(DurationText.format(timeout)) (--busy-timeout)"
    }

    /// Creates the store's directory and file before SQLite does, so both honour the umask
    /// (SQLite itself creates files 0644): with `umask 002` in a setgid directory, a group
    /// shares the store. Errors name the path and the errno, never a Foundation dump.
    static func prepare(_ path: String) throws(BackendError) {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            var partial = dir.hasPrefix("/") ? "" : "."
            for part in dir.split(separator: "/") {
                partial += "/" + part
                if mkdir(partial, 0o777) != 0, errno != EEXIST {
                    throw .storage(
                        "cannot create the directory \(partial): \(String(cString: strerror(errno))) "
                            + "(pass --state PATH, or set XDG_STATE_HOME or HOME)")
                }
            }
        }
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        if fd >= 0 {
            close(fd)
            return
        }
        let why = errno
        // A read-only store can still be read (status); SQLite reports what it can't do.
        if why == EACCES || why == EROFS, access(path, R_OK) == 0 { return }
        if why == EISDIR { throw .storage("\(path) is a directory; --state names the store file") }
        throw .storage(
            "cannot open \(path): \(String(cString: strerror(why))) (check its permissions, or pass --state PATH)")
    }

    /// SQLite's own words without GRDB's "- while executing SQL" suffix.
    static func plain(_ error: any Error) -> String {
        var text = "\(error)"
        if let r = text.range(of: " - while executing") { text = String(text[..<r.lowerBound]) }
        if let r = text.range(of: #"^SQLite error \d+: "#, options: .regularExpression) {
            text = String(text[r.upperBound...])
        }
        if text.contains("readonly database") {
            return "the store is read-only for this user (it needs write access to the file and its directory)"
        }
        return text
    }

    /// The default store: `$XDG_STATE_HOME/once/once-exec.sqlite` when XDG_STATE_HOME is an
    /// absolute path (the XDG spec ignores relative ones), else `$HOME/.local/state/once/…`,
    /// else the passwd entry's home.
    package static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(BackendError) -> String
    {
        let base: String
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            base = xdg
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            base = (home as NSString).appendingPathComponent(".local/state")
        } else if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir, dir.pointee == UInt8(ascii: "/") {
            base = (String(cString: dir) as NSString).appendingPathComponent(".local/state")
        } else {
            throw .storage("no home directory for uid \(getuid()): set XDG_STATE_HOME or HOME, or pass --state PATH")
        }
        return (base as NSString).appendingPathComponent("once/once-exec.sqlite")
    }

    private func run<T>(_ body: () async throws -> T) async throws(BackendError) -> T {
        do {
            return try await body()
        } catch {
            if Self.isBusy(error) { throw .busy(Self.busyMessage(store.path, busyTimeout)) }
            throw .storage("\(store.path): \(Self.plain(error))")
        }
    }

    package func acquire(key: String, ttl: Int, runId: String, retryFailed: Bool, holder: LeaseHolder)
        async throws(BackendError)
        -> AcquireResult
    {
        let acquire = LeaseCommand.Acquire(
            ttl: ttl, metadata: holder.metadata(runId: runId),
            newLeaseId: "lease_" + APIKeyMaterial.randomToken(), retryFailed: retryFailed)
        let decided = try await run {
            try await store.acquire(account: account, key: key, acquire, requestId: nil)
        }
        let now = decided.now
        switch decided.value {
        case .acquired(let r, _):
            return .acquired(Lease(key: key, leaseId: r.leaseId, version: r.version, ttl: r.ttl))
        case .busy(let r, _):
            return .held(ttlLeft: now.secondsUntil(r.deadline))
        case .finished(let r, _):
            return .finished(Self.status(r, now: now))
        case .overLimit(let usage, let limit):
            // The local account is on a plan without a hard cap; a hand-edited database could say otherwise.
            throw .storage("the local store's account is over its monthly limit (\(usage) of \(limit))")
        }
    }

    package func extend(key: String, leaseId: String, ttl: Int) async throws(BackendError) -> RenewResult {
        let events = pending.take()
        let reply = try await run {
            try await store.mutate(
                account: account, key: key, .extend(leaseId: leaseId, ttl: ttl), requestId: nil, runEvents: events)
        }.value
        if case .extended = reply { return .renewed }
        return .rejected(Self.describe(reply))
    }

    package func complete(key: String, leaseId: String, record: JSONValue) async throws(BackendError) -> FinishResult {
        try await finish(key, .complete(leaseId: leaseId, result: record, resultHash: nil))
    }

    package func fail(key: String, leaseId: String, errorCode: String, record: JSONValue) async throws(BackendError)
        -> FinishResult
    {
        try await finish(key, .fail(leaseId: leaseId, errorCode: errorCode, errorHash: nil, result: record))
    }

    package func cancel(key: String, leaseId: String, reason: String) async throws(BackendError) -> FinishResult {
        try await finish(key, .cancel(leaseId: leaseId, reason: reason))
    }

    private func finish(_ key: String, _ mutation: LeaseMutation) async throws(BackendError) -> FinishResult {
        let events = pending.take()
        let record = staged.withLock { $0.written ? nil : $0.event }
        let ifApplied = record.map { [$0] } ?? []
        let decided = try await run {
            try await store.mutate(
                account: account, key: key, mutation, requestId: nil, runEvents: events, ifApplied: ifApplied)
        }
        switch decided.value {
        case .completed, .failed, .canceled:
            // Written only if this finish changed the lease; a replay of one already stored
            // (an earlier attempt that committed) answers the same but wrote it then.
            if record != nil { staged.withLock { $0.written = true } }
            return .done
        case .extended, .mismatch, .notActive, .notFound: return .rejected(Self.describe(decided.value))
        }
    }

    package func stageFinish(runId: String, events: [RunEvent], record: JSONValue) {
        // The events go into the finish's transaction whatever it answers, like every pending
        // event; the record only if the finish applies.
        for event in events { pending.add(event) }
        staged.withLock { $0 = (.runRecord(runId: runId, ts: store.now(), record: record), false) }
    }

    /// Nothing to do: the staged events went into the finish's transaction.
    package func flushStagedEvents() async {}

    package func stagedRunRecordWritten() -> Bool { staged.withLock { $0.written } }

    package func status(key: String) async throws(BackendError) -> KeyStatus? {
        let record = try await run { try await store.leaseRecord(account: account, key: key) }
        return record.map { Self.status($0, now: store.now()) }
    }

    static func status(_ r: LeaseRecord, now: Timestamp) -> KeyStatus {
        KeyStatus(
            status: r.reportedStatus, version: r.version, errorCode: r.errorCode, doneAt: r.doneAt?.iso8601,
            firstSeenAt: r.firstSeenAt.iso8601, ttlLeft: r.state == .held ? now.secondsUntil(r.deadline) : nil,
            result: r.result)
    }

    static func describe(_ reply: MutationReply) -> String {
        switch reply {
        case .mismatch: "lease_mismatch: another run holds the key"
        case .notActive(let r): "lease_not_active: the lease is \(r.state.rawValue)"
        case .notFound: "not_found: the key has no lease"
        case .extended, .completed, .failed, .canceled: "\(reply)"
        }
    }

    package func record(runId: String, event: RunEvent) async {
        var event = event
        event.runId = runId
        pending.add(event)
    }

    package func timeline(runId: String) async throws(BackendError) -> [StoredEvent] {
        let t = try await run { try await store.runTimeline(account: account, runId: runId, limit: 2000, offset: 0) }
        return t.events.map {
            StoredEvent(
                id: $0.id, ts: $0.event.ts.unixSeconds, type: $0.event.type, status: $0.event.status,
                message: $0.event.message, data: $0.event.data)
        }
    }

    package func recordRun(runId: String, record: JSONValue) async {
        _ = try? await store.appendRunEvent(account: account, .runRecord(runId: runId, ts: store.now(), record: record))
    }

    package func runPage(limit: Int, offset: Int) async throws(BackendError) -> [RunPageItem] {
        let list = try await run {
            try await store.listRuns(account: account, limit: limit, offset: offset, prefix: nil)
        }
        return list.items.map { RunPageItem(runId: $0.runId, lastTs: $0.lastTs.milliseconds) }
    }
}
