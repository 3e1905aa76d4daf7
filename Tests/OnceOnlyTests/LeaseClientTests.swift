import Foundation
import OnceOnly
import Testing

/// `client.leases`: the answers a holder expects come back as values, against a real once-server.
@Suite("leases: typed holder calls against once-server")
struct LeaseClientTests {
    @Test("acquired, held, applied, conflict, finished, and not found")
    func outcomes() async throws {
        try await withOnceServer { server in
            let leases = try server.client().leases
            guard
                case .acquired(let lease) = try await leases.acquire(
                    key: "nightly", ttl: 60, metadata: ["run_id": "run_nightly"])
            else {
                Issue.record("the first acquire did not acquire")
                return
            }
            #expect(lease.key == "nightly" && lease.leaseId.hasPrefix("lease_") && lease.version == 1)
            #expect(lease.ttl == 60 && lease.answer.charged == 1)

            guard case .held(let held) = try await leases.acquire(key: "nightly", ttl: 60) else {
                Issue.record("a second acquire did not see the lease held")
                return
            }
            #expect((1...60).contains(held.ttlLeft ?? 0) && held.leaseId == nil && held.charged == 0)

            guard case .conflict(let mismatch) = try await leases.extend(key: "nightly", leaseId: "lease_wrong")
            else {
                Issue.record("extending someone else's lease was not a conflict")
                return
            }
            #expect(mismatch.code == "lease_mismatch" && mismatch.message != nil && mismatch.status == nil)

            guard case .applied(let extended) = try await leases.extend(key: "nightly", leaseId: lease.leaseId, ttl: 30)
            else {
                Issue.record("extending the lease did not apply")
                return
            }
            #expect(extended.status == "extended" && extended.ttl == 30 && extended.version == 2)
            #expect(extended.runEventsRecorded == nil, "no run_events sent, no acknowledgement")

            let note = RunEventAttachment(type: "note", status: "ok", message: "done", data: ["rows": 3])
            guard
                case .applied(let done) = try await leases.complete(
                    key: "nightly", leaseId: lease.leaseId, result: ["rows": 3], runEvents: [note])
            else {
                Issue.record("completing the lease did not apply")
                return
            }
            #expect(done.status == "completed" && done.version == 3 && done.runEventsRecorded == 1)
            // The replay of a stored finish applies again (same answer) and writes no events.
            guard
                case .applied(let replay) = try await leases.complete(
                    key: "nightly", leaseId: lease.leaseId, result: ["rows": 3], runEvents: [note])
            else {
                Issue.record("the replayed complete was not applied")
                return
            }
            #expect(replay.version == 3 && replay.runEventsRecorded == 0)
            let timeline = try await server.client().getRunTimeline(runId: "run_nightly")
            let notes = (timeline["events"]?.arrayValue ?? []).filter { $0["type"] == "note" }
            #expect(notes.count == 1 && notes.first?["data"] == ["rows": 3] && notes.first?["message"] == "done")

            guard case .finished(let finished) = try await leases.acquire(key: "nightly") else {
                Issue.record("acquiring a completed key did not answer finished")
                return
            }
            #expect(finished.status == "completed" && finished.doneAt != nil && finished.charged == 0)

            guard case .conflict(let late) = try await leases.extend(key: "nightly", leaseId: lease.leaseId) else {
                Issue.record("extending a completed lease was not a conflict")
                return
            }
            #expect(late.code == "lease_not_active" && late.status == "completed")

            #expect(try await leases.status(key: "nightly")?.status == "completed")
            #expect(try await leases.result(key: "nightly")?.result == ["rows": 3])
            #expect(try await leases.status(key: "never-used") == nil)
            #expect(try await leases.result(key: "never-used") == nil)
            #expect(try await leases.extend(key: "never-used", leaseId: "lease_x") == .notFound)
            #expect(try await leases.complete(key: "never-used", leaseId: "lease_x") == .notFound)
            #expect(try await leases.fail(key: "never-used", leaseId: "lease_x", errorCode: "e") == .notFound)
            #expect(try await leases.cancel(key: "never-used", leaseId: "lease_x") == .notFound)
        }
    }

    @Test("fail keeps its result; retryFailed acquires a failed key again; cancel releases it")
    func failRetryAndCancel() async throws {
        try await withOnceServer { server in
            let leases = try server.client().leases
            guard case .acquired(let first) = try await leases.acquire(key: "job", ttl: 60) else {
                Issue.record("no lease")
                return
            }
            let failed = try await leases.fail(
                key: "job", leaseId: first.leaseId, errorCode: "exit_3", result: ["exit_code": 3])
            guard case .applied(let update) = failed else {
                Issue.record("fail did not apply: \(failed)")
                return
            }
            #expect(update.status == "failed" && update.errorCode == "exit_3")
            let stored = try await leases.result(key: "job")
            #expect(stored?.status == "failed" && stored?.result == ["exit_code": 3], "result on fail is kept")

            guard case .finished(let run) = try await leases.acquire(key: "job", ttl: 60) else {
                Issue.record("a failed key without retryFailed was not finished")
                return
            }
            #expect(run.status == "failed" && run.errorCode == "exit_3")
            guard case .acquired(let second) = try await leases.acquire(key: "job", ttl: 60, retryFailed: true) else {
                Issue.record("retryFailed did not acquire the failed key")
                return
            }
            #expect(second.version > first.version && second.leaseId != first.leaseId)

            guard case .applied(let canceled) = try await leases.cancel(key: "job", leaseId: second.leaseId) else {
                Issue.record("cancel did not apply")
                return
            }
            #expect(canceled.status == "canceled")
            guard case .acquired = try await leases.acquire(key: "job", ttl: 60) else {
                Issue.record("a canceled key was not acquired again")
                return
            }
        }
    }

    @Test("what is not a holder's answer still throws")
    func errors() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            guard case .acquired(let lease) = try await client.leases.acquire(key: "e", ttl: 60) else {
                Issue.record("no lease")
                return
            }
            // A bad run_events element is a 422 for the whole finish, which is then not done.
            let invalid = await #expect(throws: OnceOnlyError.self) {
                try await client.leases.complete(
                    key: "e", leaseId: lease.leaseId, runEvents: [RunEventAttachment(type: "")])
            }
            #expect(invalid?.statusCode == 422)
            #expect(try await client.leases.status(key: "e")?.status == "in_progress")

            let stranger = try OnceOnlyClient(apiKey: "once_live_unknown", baseURL: server.baseURL, environment: [:])
            await #expect(throws: OnceOnlyError.unauthorized(message: "Invalid API key")) {
                try await stranger.leases.acquire(key: "e")
            }
            // A base URL that is not the API's: its 404 is not the API's `not_found`.
            let elsewhere = try OnceOnlyClient(apiKey: server.key, baseURL: server.baseURL + "/nope", environment: [:])
            let wrongPath = await #expect(throws: OnceOnlyError.self) {
                try await elsewhere.leases.extend(key: "e", leaseId: lease.leaseId)
            }
            #expect(wrongPath?.statusCode == 404 && wrongPath?.errorCode == nil)
            let wrongRead = await #expect(throws: OnceOnlyError.self) { try await elsewhere.leases.status(key: "e") }
            #expect(wrongRead?.statusCode == 404)
        }
    }

    @Test("a 2xx that is not a lease answer throws with its status and body")
    func notALeaseAnswer() async throws {
        try await withScriptedServer { server in
            let leases = try server.client().leases
            server.enqueue(
                .json(["ok": true, "status": "sleeping"]), .json(["ok": true, "status": "acquired", "version": 1]),
                .json(["ok": true]))
            await #expect(throws: OnceOnlyError.self) { try await leases.acquire(key: "k") }
            let noLeaseId = await #expect(throws: OnceOnlyError.self) { try await leases.acquire(key: "k") }
            #expect(noLeaseId?.statusCode == 200 && noLeaseId?.detail?["status"] == "acquired")
            let noStatus = await #expect(throws: OnceOnlyError.self) { try await leases.status(key: "k") }
            #expect(noStatus?.statusCode == 200)
        }
    }

    @Test("bodies: extension fields only when asked for, run_events only when there are some")
    func bodies() async throws {
        try await withScriptedServer(fallback: { _ in .json(["ok": true, "status": "completed"]) }) { server in
            let leases = try server.client().leases
            server.enqueue(.json(["ok": true, "status": "polling"]), .json(["ok": true, "status": "polling"]))
            _ = try await leases.acquire(key: "k", ttl: 30, metadata: ["run_id": "r"])
            _ = try await leases.acquire(key: "k", retryFailed: true)
            _ = try await leases.complete(key: "k", leaseId: "l", runEvents: [])
            _ = try await leases.fail(
                key: "k", leaseId: "l", errorCode: "e", result: ["a": 1],
                runEvents: [RunEventAttachment(type: "child_exited", status: "0")])
            _ = try await leases.cancel(key: "k", leaseId: "l", reason: "")
            let bodies = server.requests.map { $0.json }
            #expect(bodies[0] == ["key": "k", "ttl": 30, "metadata": ["run_id": "r"]])
            #expect(bodies[1] == ["key": "k", "retry_failed": true])
            #expect(bodies[2] == ["key": "k", "lease_id": "l"])
            #expect(
                bodies[3] == [
                    "key": "k", "lease_id": "l", "error_code": "e", "result": ["a": 1],
                    "run_events": [["type": "child_exited", "status": "0"]],
                ])
            #expect(bodies[4] == ["key": "k", "lease_id": "l"])
            #expect(
                server.requests.map(\.path) == [
                    "/v1/ai/lease", "/v1/ai/lease", "/v1/ai/complete", "/v1/ai/fail", "/v1/ai/cancel",
                ])
        }
    }
}
