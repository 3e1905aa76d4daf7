@testable import OnceCore

/// 2025-01-15T10:30:00Z, the instant the API examples use.
let t0 = Timestamp(seconds: 1_736_937_000)

func at(_ seconds: Int, ms: Int64 = 0) -> Timestamp {
    Timestamp(milliseconds: t0.milliseconds + Int64(seconds) * 1000 + ms)
}

let agency = Quota(plan: .agency, usage: 0)

func acquire(
    _ leaseId: String, ttl: Int = 60, metadata: JSONValue? = nil, retryFailed: Bool = false
) -> LeaseCommand {
    .acquire(.init(ttl: ttl, metadata: metadata, newLeaseId: leaseId, retryFailed: retryFailed))
}

func run(
    _ command: LeaseCommand, on stored: LeaseRecord?, at now: Timestamp, key: String = "job", quota: Quota = agency
) -> LeaseTransition<LeaseReply> {
    LeaseEngine.apply(command, to: stored, key: key, now: now, quota: quota)
}

/// A lease on "job" acquired at `t0` by `lease_a` (v1, ttl 60) and then walked through `then`,
/// each command one second after the previous one. Every step must write.
func record(
    acquiredBy leaseId: String = "lease_a", ttl: Int = 60, metadata: JSONValue? = nil,
    then commands: [LeaseCommand] = []
) -> LeaseRecord {
    var r = run(acquire(leaseId, ttl: ttl, metadata: metadata), on: nil, at: t0).write!
    for (i, c) in commands.enumerated() {
        r = run(c, on: r, at: at(i + 1)).write!
    }
    return r
}

extension LeaseReply {
    /// A short name for the case, for messages and for comparing with a model.
    var kind: String {
        switch self {
        case .acquired: "acquired"
        case .busy: "busy"
        case .finished: "finished"
        case .overLimit: "overLimit"
        case .extended: "extended"
        case .completed(_, let replay): replay ? "completed-replay" : "completed"
        case .failed(_, let replay): replay ? "failed-replay" : "failed"
        case .canceled(_, let replay): replay ? "canceled-replay" : "canceled"
        case .mismatch: "mismatch"
        case .notActive: "notActive"
        case .notFound: "notFound"
        }
    }

    /// True for the answers of a call that changed the lease.
    var isMutation: Bool {
        switch self {
        case .acquired, .extended: true
        case .completed(_, let replay), .failed(_, let replay), .canceled(_, let replay): !replay
        default: false
        }
    }
}
