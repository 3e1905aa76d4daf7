import Foundation
import OnceCore
import OnceOnly
import OnceStore

#if canImport(Glibc)
    import Glibc
#endif

/// One `once-exec KEY -- COMMAND` invocation, from taking the lease to finishing it.
@MainActor
package struct Runner {
    let options: ExecOptions
    let backend: any LeaseBackend
    let reporter: Reporter
    let environment: [String: String]
    let relay: SignalRelay

    package init(options: ExecOptions, backend: any LeaseBackend, relay: SignalRelay, verbose: Bool = false) {
        self.relay = relay
        self.options = options
        self.backend = backend
        self.reporter = Reporter(quiet: options.quiet, verbose: verbose)
        self.environment = ProcessInfo.processInfo.environment
    }

    private func summary(_ outcome: ExecOutcome, _ message: String?, exitCode: Int32? = nil) -> ExecSummary {
        ExecSummary(
            key: options.key, runId: nil, outcome: outcome, exitCode: exitCode ?? options.exitCodes.code(for: outcome),
            backend: backend.name, message: message)
    }

    package func run() async -> ExecSummary {
        // Resolve the command before touching the lease: a typo must not burn a run.
        let argv = options.shell ? ["/bin/sh", "-c", options.command.joined(separator: " ")] : options.command
        let path: String
        do {
            path = try ChildProcess.resolve(argv[0], path: environment["PATH"])
        } catch {
            reporter.warn(error.description)
            return spawnFailure(error)
        }
        let runId = "run_" + APIKeyMaterial.randomToken(length: 20)
        let clock = ContinuousClock()
        let callStart = clock.now
        var now: Duration { callStart.duration(to: clock.now) }
        var machine = StartMachine(wait: options.wait, join: options.join, retryFailed: options.retryFailed)
        var actions = machine.start()
        var acquiredAt = callStart
        while !actions.isEmpty {
            switch actions.removeFirst() {
            case .acquire(let retryFailed):
                acquiredAt = clock.now
                let answer: Result<AcquireResult, BackendError>
                do {
                    answer = .success(
                        try await backend.acquire(
                            key: options.key, ttl: options.ttl, runId: runId, retryFailed: retryFailed,
                            holder: LeaseHolder(host: Self.hostName, argv: options.command)))
                } catch {
                    answer = .failure(error)
                }
                actions += machine.acquired(answer, now: now)
                if case .success = answer, let signal = relay.pending { actions = machine.signalled(signal) }
            case .readStatus:
                let status = (try? await backend.status(key: options.key)) ?? nil
                actions += machine.statusRead(status, now: now)
            case .announceWait:
                reporter.info("\(options.key) is held by another run; waiting")
            case .sleep(let until):
                // Short steps, so a signal ends the wait at once.
                while now < until, relay.pending == nil {
                    try? await Task.sleep(for: min(.milliseconds(50), until - now))
                }
                if let signal = relay.pending {
                    actions = machine.signalled(signal)
                } else {
                    actions += machine.woke(now: now)
                }
            case .done(let outcome):
                switch outcome {
                case .run(let lease):
                    return await supervise(
                        lease: lease, path: path, argv: argv, runId: runId, acquiredAt: acquiredAt, clock: clock)
                case .finished(let status, let waited):
                    return finished(status, waited: waited)
                case .joined(let status):
                    return adopt(status)
                case .held(let ttlLeft):
                    let message =
                        "\(options.key) is held by another run" + (ttlLeft.map { " (lease ends within \($0)s)" } ?? "")
                    reporter.note(
                        message + (options.wait == nil ? "; not running (use --wait to wait)" : "; gave up waiting"))
                    return summary(.held, message)
                case .interrupted(let signal, let lease):
                    if let lease {
                        _ = try? await backend.cancel(
                            key: lease.key, leaseId: lease.leaseId,
                            reason: "interrupted by \(signalName(signal)) before start")
                    }
                    return interrupted(signal)
                case .unreachable(let error):
                    return await unreachable(error, path: path, argv: argv, runId: runId)
                }
            }
        }
        preconditionFailure("the start machine ends with .done")
    }

    // MARK: outcomes without running

    /// 127 when the command does not exist, 126 when it cannot be executed, as shells say.
    private func spawnFailure(_ error: ChildProcess.SpawnError) -> ExecSummary {
        var s = summary(.spawnFailed, error.description)
        if case .notExecutable = error, !options.exitCodes.isRemapped(.spawnFailed) { s.exitCode = 126 }
        return s
    }

    /// A signal to once-exec before COMMAND started: stop, as if killed by it.
    private func interrupted(_ signal: Int32, runId: String? = nil) -> ExecSummary {
        let message =
            "interrupted by \(signalName(signal)) before \(options.key) ran" + (runId.map { " (run \($0))" } ?? "")
        reporter.note(message)
        var s = summary(.interrupted, message, exitCode: 128 + signal)
        s.runId = runId
        return s
    }

    private func finished(_ status: KeyStatus, waited: Bool = false) -> ExecSummary {
        let stored = StoredRun(status.result)
        if options.join { return adopt(status) }
        if status.status == "completed" {
            if options.replay { return replay(status, stored) }
            var message = "\(options.key) already completed"
            if let doneAt = status.doneAt { message += " at \(doneAt)" }
            if let stored {
                var parts: [String] = []
                if let host = stored.host { parts.append("on \(host)") }
                parts.append("exit \(stored.shellCode)")
                if let d = stored.durationText { parts.append("took \(d)") }
                message += " (" + parts.joined(separator: ", ") + ")"
            }
            reporter.note(message + "; not running it again")
            var s = summary(.completed, message)
            s.fence = status.version
            return s
        }
        var message = "\(options.key) already failed"
        if let doneAt = status.doneAt { message += " at \(doneAt)" }
        if let code = status.errorCode { message += " (\(code))" }
        if waited && options.retryFailed {
            reporter.note(
                message + " while this call waited for it; not running it again "
                    + "(--retry-failed covers only a failure recorded before the call started)")
        } else {
            reporter.note(message + "; not running it again (use --retry-failed to run it)")
        }
        var s = summary(.failed, message)
        s.fence = status.version
        return s
    }

    /// `--replay`: print the stored output of the completed run and exit with its code.
    private func replay(_ status: KeyStatus, _ stored: StoredRun?) -> ExecSummary {
        if let out = stored?.stdoutBytes { FileHandle.standardOutput.write(out) }
        if let err = stored?.stderrBytes { FileHandle.standardError.write(err) }
        let code = stored?.shellCode ?? 0
        var s = summary(.completed, "replayed the stored run of \(options.key)", exitCode: code)
        s.fence = status.version
        s.runId = stored?.runId
        return s
    }

    /// `--join`: take the finished run's outcome as ours.
    private func adopt(_ status: KeyStatus) -> ExecSummary {
        let stored = StoredRun(status.result)
        if let out = stored?.stdoutBytes { FileHandle.standardOutput.write(out) }
        if let err = stored?.stderrBytes { FileHandle.standardError.write(err) }
        let code: Int32 = status.status == "completed" ? (stored?.shellCode ?? 0) : (stored?.shellCode ?? 1)
        let message = "joined the finished run of \(options.key): \(status.status), exit \(code)"
        reporter.info(message)
        var s = summary(status.status == "completed" ? .completed : .failed, message, exitCode: code)
        s.fence = status.version
        s.runId = stored?.runId
        return s
    }

    private func unreachable(_ error: BackendError, path: String, argv: [String], runId: String) async -> ExecSummary {
        if case .refused = error {
            reporter.warn(error.description)
            return summary(.refused, error.description)
        }
        // Another process holds the local file: the store is there and answers, so this is
        // never a reason to run without a lease, whatever --if-unreachable says.
        if case .busy = error {
            reporter.warn("\(error.description); not running \(options.key)")
            return summary(.busy, error.description)
        }
        switch options.ifUnreachable {
        case .fail:
            reporter.warn(error.description)
            return summary(.unreachable, error.description)
        case .skip:
            reporter.note("\(error.description); skipping \(options.key) (--if-unreachable skip)")
            return summary(.skipped, error.description)
        case .run:
            reporter.warn("\(error.description); running \(options.key) without a lease (--if-unreachable run)")
            return await supervise(
                lease: nil, path: path, argv: argv, runId: runId, acquiredAt: ContinuousClock().now,
                clock: ContinuousClock())
        }
    }

    // MARK: running

    private func supervise(
        lease: Lease?, path: String, argv: [String], runId: String, acquiredAt: ContinuousClock.Instant,
        clock: ContinuousClock
    ) async -> ExecSummary {
        var env = environment
        // The API key is once-exec's credential, not the job's: a job that logs its
        // environment (or runs untrusted code) must not leak it. --pass-api-key opts in.
        if !options.passAPIKey { env.removeValue(forKey: "ONCEONLY_API_KEY") }
        env["ONCE_KEY"] = options.key
        env["ONCE_RUN_ID"] = runId
        env["ONCE_LEASE_ID"] = lease?.leaseId ?? ""
        env["ONCE_FENCE"] = lease.map { String($0.version) } ?? ""
        var out: OutputTail?
        var err: OutputTail?
        if options.capture > 0 {
            out = try? OutputTail(target: 1, limit: options.capture)
            // stdout and stderr going to one place (`>log 2>&1`, cron mail): one pipe for both,
            // so their lines keep their order there; the record then has one merged tail.
            if !Self.sameDestination(1, 2) { err = try? OutputTail(target: 2, limit: options.capture) }
        }
        let startedAt = Date()
        let child: ChildProcess
        do {
            child = try await ChildProcess.spawn(
                path: path, argv: argv, environment: env, stdoutFD: out?.writeFD ?? -1,
                stderrFD: err?.writeFD ?? (out != nil ? out!.writeFD : -1))
        } catch {
            out?.closeWriteEnd()
            err?.closeWriteEnd()
            reporter.warn(error.description)
            if let lease {
                _ = try? await backend.cancel(key: lease.key, leaseId: lease.leaseId, reason: "spawn failed: \(error)")
            }
            var s = spawnFailure(error)
            s.runId = runId
            return s
        }
        out?.closeWriteEnd()
        err?.closeWriteEnd()
        let ttl = Duration.seconds(lease?.ttl ?? options.ttl)
        let policy = SupervisorPolicy(
            ttl: ttl, heartbeat: options.heartbeat, killAfter: options.killAfter,
            maxRuntime: options.maxRuntime.map { acquiredAt.duration(to: clock.now) + $0 },
            onLeaseLost: options.onLeaseLost, leased: lease != nil)
        let spawned = RunEvent(
            runId: runId, type: ExecEventKind.childSpawned.rawValue, ts: .now, leaseId: lease?.leaseId,
            message: "pid \(child.pid): \(argv.joined(separator: " "))")
        let (machine, unposted) = await Supervisor(
            machine: SupervisorMachine(policy: policy), start: acquiredAt, backend: backend, key: options.key,
            lease: lease, runId: runId, child: child, reporter: reporter, relay: relay, initialEvents: [spawned]
        ).run()
        guard case .exited(let status, _, let decision) = machine.child else {
            preconditionFailure("the supervisor returns once the child has exited")
        }
        let endedAt = Date()
        // COMMAND has exited: what it wrote is in the pipe already, so its end comes at once
        // unless a background helper holds it; then a drain process takes the pipe over.
        let stdoutTail = await out?.finish(timeout: .milliseconds(250))
        let stderrTail = await err?.finish(timeout: .milliseconds(250))
        // The end of the timeline travels with the finish (see stageFinish below).
        let trailing =
            unposted + [
                RunEvent(
                    runId: runId, type: ExecEventKind.childExited.rawValue, ts: .now, leaseId: lease?.leaseId,
                    message: status.errorCode)
            ]

        var s = ExecSummary(
            key: options.key, runId: runId, outcome: .ran, exitCode: status.shellCode, fence: lease?.version,
            leaseId: lease?.leaseId, backend: backend.name, child: status,
            durationMs: Int64((endedAt.timeIntervalSince(startedAt) * 1000).rounded()), message: nil)
        guard let lease else {
            for event in trailing { await backend.record(runId: runId, event: event) }
            return s
        }

        let runLabel = "\(options.key) (run \(runId))"
        var record = RunRecord(
            key: lease.key, runId: runId, fence: lease.version, host: Self.hostName, pid: getpid(), argv: argv,
            startedAt: startedAt, endedAt: endedAt, exit: status, outcome: decision.outcome,
            stdoutTail: stdoutTail?.text, stderrTail: stderrTail?.text)
        record.stdoutBytes = stdoutTail?.bytes
        record.stderrBytes = stderrTail?.bytes
        record.merged = out != nil && err == nil
        let json = record.json
        if case .cancel(let signal) = decision {
            s.message =
                "\(runLabel): interrupted by \(signalName(signal)); the lease was canceled (the next run of KEY runs)"
            reporter.note(s.message!)
        }
        // The history record as it will read if the finish is recorded: with the trailing
        // events, a backend that can writes it in the finish's own transaction (the local
        // store: one commit less; once-server: the finish is the one round trip after the exit).
        let expected = machine.settle(.done) ?? .unrecorded
        var expectedRecord = record
        Self.conclude(
            &expectedRecord, end: expected, decision: decision,
            summary: concluded(s, expected, decision: decision, runLabel: runLabel))
        backend.stageFinish(runId: runId, events: trailing, record: expectedRecord.historyJSON)
        let answer: FinishAnswer
        switch decision {
        case .unleased:
            answer = .done
        case .recordLost:
            // Once, best effort: the service may have given KEY to another run already.
            _ = try? await backend.fail(key: lease.key, leaseId: lease.leaseId, errorCode: "lease_lost", record: json)
            answer = .noAnswer
        case .complete:
            answer = await finishing { () async throws(BackendError) -> FinishResult in
                try await backend.complete(key: lease.key, leaseId: lease.leaseId, record: json)
            }
        case .fail(let errorCode, _):
            answer = await finishing { () async throws(BackendError) -> FinishResult in
                try await backend.fail(key: lease.key, leaseId: lease.leaseId, errorCode: errorCode, record: json)
            }
        case .cancel(let signal):
            answer = await finishing { () async throws(BackendError) -> FinishResult in
                try await backend.cancel(
                    key: lease.key, leaseId: lease.leaseId, reason: "interrupted by \(signalName(signal))")
            }
        }
        let end = machine.settle(answer) ?? .unrecorded
        s = concluded(s, end, decision: decision, runLabel: runLabel)
        switch end {
        case .recordRejected(let why):
            reporter.warn("\(runLabel): could not record the run's end: \(why)")
        case .lostUnrecorded, .unrecorded:
            reporter.warn(s.message!)
        case .recorded, .timedOut, .lost:
            break
        }
        if s.outcome != .ran { s.exitCode = options.exitCodes.code(for: s.outcome) }
        await backend.flushStagedEvents()
        // One history record per attempt, whatever the end: a retry must not erase a failure.
        if end == expected, backend.stagedRunRecordWritten() { return s }
        Self.conclude(&record, end: end, decision: decision, summary: s)
        await backend.recordRun(runId: runId, record: record.historyJSON)
        return s
    }

    /// The summary once the run has ended as `end` (outcome and message; the exit code follows
    /// from the outcome).
    func concluded(_ summary: ExecSummary, _ end: RunEnd, decision: FinishDecision, runLabel: String) -> ExecSummary {
        var s = summary
        switch end {
        case .recorded:
            break
        case .timedOut:
            s.outcome = .timeout
            s.message = "\(runLabel): stopped after --max-runtime \(DurationText.format(options.maxRuntime ?? .zero))"
        case .lost(let cause):
            s.outcome = .leaseLost
            s.message =
                "\(runLabel): lease lost (\(cause.rawValue)); the child was "
                + (options.onLeaseLost == .stop ? "stopped" : "not stopped")
        case .recordRejected(let why):
            s.outcome = .leaseLost
            s.message = "\(runLabel): the lease was lost before the run ended: \(why)"
        case .lostUnrecorded:
            // --on-lease-lost warn: the child was let finish, but the lease was already gone.
            s.outcome = .leaseLost
            s.message =
                "\(runLabel): the run ended (\(decision.outcome)) after its lease was lost; it could not be recorded"
        case .unrecorded:
            s.outcome = .unreachable
            s.message = "\(runLabel): the run ended (\(decision.outcome)) but the lease service could not record it"
        }
        return s
    }

    /// Fills the history fields of `record` for a run that ended as `end`.
    static func conclude(_ record: inout RunRecord, end: RunEnd, decision: FinishDecision, summary: ExecSummary) {
        let history = end.history(decision)
        record.outcome = history.outcome
        record.errorCode = history.errorCode
        record.message = summary.message
    }

    /// Finishing is retried briefly (``RetryPolicy/runEnd``): the child's work is done and
    /// losing its outcome would make the next run repeat it. A refusal is an answer, not retried.
    private func finishing(_ body: () async throws(BackendError) -> FinishResult) async -> FinishAnswer {
        let policy = RetryPolicy.runEnd
        for retry in 0...policy.maxRetries {
            do {
                switch try await body() {
                case .done: return .done
                case .rejected(let why): return .rejected(why)
                }
            } catch {
                if case .refused(_, let why) = error { return .rejected(why) }
                reporter.info("recording the run's end failed (attempt \(retry + 1)): \(error)")
                guard policy.allowsRetry(afterFailures: retry + 1) else { break }
                try? await Task.sleep(for: policy.duration(beforeRetry: retry))
            }
        }
        return .noAnswer
    }

    /// Whether two descriptors are one file (same device and inode): `>log 2>&1`.
    static func sameDestination(_ a: Int32, _ b: Int32) -> Bool {
        var x = stat()
        var y = stat()
        guard fstat(a, &x) == 0, fstat(b, &y) == 0 else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// gethostname(2): ProcessInfo.hostName may resolve the name through DNS.
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

}
