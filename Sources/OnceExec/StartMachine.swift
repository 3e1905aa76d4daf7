/// The start of a run as a pure value: take the lease or, with `--wait`, poll until the key
/// is free, finished, or the wait is over; with `--join`, look whether the holder finished.
/// Time is a `Duration` since the call started; the driver does the calls and the sleeps.
package struct StartMachine: Sendable {
    package enum Action: Sendable, Equatable {
        /// Ask for the lease; answer with ``acquired(_:now:)``.
        case acquire(retryFailed: Bool)
        /// `--join`: read the key's state; answer with ``statusRead(_:now:)``.
        case readStatus
        /// Say once that this call waits for another run.
        case announceWait
        /// Sleep until then (or a signal); answer with ``woke(now:)`` or ``signalled(_:)``.
        case sleep(until: Duration)
        /// The start is decided.
        case done(StartOutcome)
    }

    package enum StartOutcome: Sendable, Equatable {
        /// Run COMMAND under this lease.
        case run(Lease)
        /// KEY is finished (completed, or failed without `--retry-failed`); `waited`: this call
        /// waited for the run that finished it.
        case finished(KeyStatus, waited: Bool)
        /// `--join`: the run waited for finished; take its outcome.
        case joined(KeyStatus)
        /// Another run holds KEY and this call does not (or no longer) wait.
        case held(ttlLeft: Int?)
        /// A signal came before COMMAND started; a lease already taken is to be canceled.
        case interrupted(Int32, cancel: Lease?)
        /// The service failed (or refused) the acquire.
        case unreachable(BackendError)
    }

    /// What the machine is waiting for, with the data each state needs.
    package enum State: Sendable, Equatable {
        case acquiring
        case readingStatus(ttlLeft: Int?)
        case sleeping(until: Duration)
        case done(StartOutcome)
    }

    /// Until when to wait (since the call started); nil: do not wait.
    package let waitUntil: Duration?
    package let join: Bool
    package let retryFailed: Bool
    package private(set) var state: State = .acquiring
    /// Once this call has waited for another run, that run's failure is this call's outcome:
    /// `--retry-failed` covers only a failure already recorded when the call started, so N
    /// waiting callers of a broken deploy do not run it N times, one after another.
    package private(set) var waited = false
    package private(set) var pollDelay = Duration.milliseconds(100)
    private var announced = false

    package init(wait: Duration?, join: Bool, retryFailed: Bool) {
        waitUntil = wait
        self.join = join
        self.retryFailed = retryFailed
    }

    /// The first action.
    package func start() -> [Action] { [.acquire(retryFailed: retryFailed)] }

    package mutating func acquired(_ answer: Result<AcquireResult, BackendError>, now: Duration) -> [Action] {
        guard case .acquiring = state else { return [] }
        switch answer {
        case .failure(let error):
            return finish(.unreachable(error))
        case .success(.acquired(let lease)):
            return finish(.run(lease))
        case .success(.finished(let status)):
            return finish(join ? .joined(status) : .finished(status, waited: waited))
        case .success(.held(let ttlLeft)):
            guard let waitUntil, now < waitUntil else { return finish(.held(ttlLeft: ttlLeft)) }
            waited = true
            var actions: [Action] = []
            if !announced {
                announced = true
                actions.append(.announceWait)
            }
            if join {
                state = .readingStatus(ttlLeft: ttlLeft)
                return actions + [.readStatus]
            }
            return actions + sleep(now: now)
        }
    }

    /// `--join`'s look at the key. An expired lease (the holder died) is not an outcome to
    /// join: the next acquire takes it. A failed read is no answer: keep waiting.
    package mutating func statusRead(_ status: KeyStatus?, now: Duration) -> [Action] {
        guard case .readingStatus = state else { return [] }
        if let status,
            status.status == "completed" || (status.status == "failed" && status.errorCode != "lease_expired")
        {
            return finish(.joined(status))
        }
        return sleep(now: now)
    }

    package mutating func woke(now: Duration) -> [Action] {
        guard case .sleeping(let until) = state, now >= until else { return [] }
        pollDelay = min(pollDelay * 2, .seconds(2))
        state = .acquiring
        return [.acquire(retryFailed: retryFailed && !waited)]
    }

    /// A signal to once-exec before COMMAND started: stop. The driver reports a signal while
    /// sleeping, and after each answered acquire (which may have brought a lease: it is to
    /// be canceled). A failed acquire's outcome, or an earlier signal, stays.
    package mutating func signalled(_ signal: Int32) -> [Action] {
        switch state {
        case .done(.run(let lease)):
            return finish(.interrupted(signal, cancel: lease))
        case .done(.unreachable), .done(.interrupted):
            return []
        case .acquiring, .readingStatus, .sleeping, .done(.finished), .done(.joined), .done(.held):
            return finish(.interrupted(signal, cancel: nil))
        }
    }

    private mutating func sleep(now: Duration) -> [Action] {
        guard let waitUntil else { return finish(.held(ttlLeft: nil)) }
        let until = min(now + pollDelay, waitUntil)
        state = .sleeping(until: until)
        return [.sleep(until: until)]
    }

    private mutating func finish(_ outcome: StartOutcome) -> [Action] {
        state = .done(outcome)
        return [.done(outcome)]
    }
}
