import Testing

@testable import OnceCore

/// ``LeaseEngine/attached(_:to:now:)``: the rule that decides what a finish's `run_events`
/// become, shared by every store.
@Suite("LeaseEngine: events attached to a mutation")
struct AttachedRunEventTests {
    static let note = [AttachedRunEvent(type: "child_exited", status: "x", message: "exit 0", data: .object([:]))]
    static let withRun = record(metadata: .object(["run_id": .string("run-1"), "agent_id": .string("bot")]))

    @Test("written under the lease's run id only when the mutation applied")
    func rule() {
        let table: [(stored: LeaseRecord, mutation: LeaseMutation, written: Bool)] = [
            (Self.withRun, LeaseMutation.complete(leaseId: "lease_a", result: nil, resultHash: nil), true),
            (Self.withRun, .fail(leaseId: "lease_a", errorCode: "e", errorHash: nil, result: nil), true),
            (Self.withRun, .cancel(leaseId: "lease_a", reason: nil), true),
            (Self.withRun, .extend(leaseId: "lease_a", ttl: nil), true),
            (Self.withRun, .complete(leaseId: "lease_b", result: nil, resultHash: nil), false),  // mismatch
            (record(), .complete(leaseId: "lease_a", result: nil, resultHash: nil), false),  // no run id
            // replay of a finish already stored
            (
                record(
                    metadata: .object(["run_id": .string("run-1")]),
                    then: [.complete(leaseId: "lease_a", result: nil, resultHash: nil)]),
                .complete(leaseId: "lease_a", result: nil, resultHash: nil), false
            ),
        ]
        for (stored, mutation, written) in table {
            let now = at(5)
            let reply = LeaseEngine.mutate(mutation, to: stored, now: now).reply
            let rows = LeaseEngine.attached(Self.note, to: reply, now: now)
            #expect(rows.isEmpty == !written, "\(mutation) → \(reply)")
            if written {
                #expect(
                    rows == [
                        RunEvent(
                            runId: "run-1", type: "child_exited", ts: now, status: "x", leaseId: "lease_a",
                            agentId: "bot", message: "exit 0", data: .object([:]))
                    ])
            }
        }
    }

    @Test("an expiry settled on the way is not the finish applying")
    func expired() {
        let late = at(120)
        let transition = LeaseEngine.mutate(
            .complete(leaseId: "lease_a", result: nil, resultHash: nil), to: Self.withRun, now: late)
        #expect(transition.write != nil)  // the expiry is written…
        #expect(!transition.reply.applied)  // …but the finish was refused
        #expect(LeaseEngine.attached(Self.note, to: transition.reply, now: late).isEmpty)
    }
}
