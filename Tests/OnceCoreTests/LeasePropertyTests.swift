import Testing

@testable import OnceCore

/// SplitMix64: small, fast and the same on every platform, so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random walks of commands, clock advances and retention sweeps on one key, checked against a
/// small independent model of API §5.9 and against the invariants the fencing counter promises.
@Suite struct LeasePropertyTests {
    /// What the model believes the key looks like.
    struct Model {
        var state: LeaseState? = nil  // nil: never used
        var leaseId = ""
        var version: Int64 = 0
        var deadline = Timestamp(milliseconds: 0)
        var ttl = 0
        var doneAt: Timestamp? = nil
        var resultHash: String? = nil
    }

    @Test(arguments: [1, 42, 0xDEAD_BEEF] as [UInt64])
    func randomWalkKeepsTheInvariants(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var stored: LeaseRecord? = nil
        var model = Model()
        var now = t0
        var usage: Int64 = 0
        var issued: [String] = []
        var expiriesSeen = 0
        var expiriesCounted: Int64 = 0
        var writes = 0
        var kinds: Set<String> = []

        for step in 0..<4_000 {
            // Move the clock: mostly a little, sometimes past a deadline, rarely past retention.
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<50: now = now.adding(seconds: Int.random(in: 0...5, using: &rng))
            case 50..<90: now = now.adding(seconds: Int.random(in: 5...90, using: &rng))
            case 90..<93: now = now.adding(seconds: LeaseEngine.retentionSeconds + Int.random(in: 0...60, using: &rng))
            default: now = Timestamp(milliseconds: now.milliseconds + Int64.random(in: 0...999, using: &rng))
            }

            // Sometimes the sweep runs instead of a command: like the store's, it records expiries
            // first and then purges what is past retention.
            if Int.random(in: 0..<20, using: &rng) == 0, var current = stored {
                let settled = LeaseEngine.settle(current, now: now)
                #expect(
                    (settled != nil) == (model.state == .held && model.deadline <= now), "seed \(seed) step \(step)")
                if let settled {
                    #expect(settled.record.version == current.version)
                    expiriesSeen += 1
                    expiriesCounted += settled.effects.counters.aiFailed
                    model.state = .expired
                    model.doneAt = model.deadline
                    current = settled.record
                    stored = current
                    writes += 1
                }
                let purged = LeaseEngine.purge(current, now: now)
                let due =
                    current.state != .held && current.state != .absent
                    && current.doneAt!.adding(seconds: LeaseEngine.retentionSeconds) <= now
                #expect((purged != nil) == due, "seed \(seed) step \(step): purge of \(current.state)")
                if let purged {
                    #expect(purged.state == .absent)
                    #expect(purged.version == current.version, "seed \(seed) step \(step): purge moved the version")
                    stored = purged
                    model.state = .absent
                    writes += 1
                }
                continue
            }

            // Pick a command and the lease id it carries.
            let ownerId: String = {
                let r = Int.random(in: 0..<10, using: &rng)
                if r < 6, model.state != nil { return model.leaseId }
                if r < 8, let old = issued.randomElement(using: &rng) { return old }
                return "lease_bogus"
            }()
            let ttl: Int? = Bool.random(using: &rng) ? Int.random(in: 10...120, using: &rng) : nil
            let command: LeaseCommand
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3:
                command = acquire(
                    "lease_\(step)", ttl: ttl ?? 60, retryFailed: Int.random(in: 0..<5, using: &rng) == 0)
            case 3..<5: command = .extend(leaseId: ownerId, ttl: ttl)
            case 5..<7:
                // Two possible results, so both replays and conflicting repeats occur.
                command = .complete(
                    leaseId: ownerId, result: .object(["variant": .int(Int64(step % 2))]), resultHash: nil)
            case 7..<9: command = .fail(leaseId: ownerId, errorCode: "fn_error", errorHash: nil)
            default: command = .cancel(leaseId: ownerId, reason: nil)
            }

            // The model's prediction.
            var expiry = false
            if model.state == .held, model.deadline <= now {
                model.state = .expired
                model.doneAt = model.deadline
                expiry = true
            }
            let liveHolder: String? = model.state == .held ? model.leaseId : nil
            let predicted: String
            switch command {
            case .acquire(let a):
                switch model.state {
                case nil, .absent, .expired, .canceled: predicted = "acquired"
                case .failed: predicted = a.retryFailed ? "acquired" : "finished"
                case .completed: predicted = "finished"
                case .held: predicted = "busy"
                }
            case .extend(let id, _):
                switch model.state {
                case nil, .absent: predicted = "notFound"
                case .held: predicted = id == model.leaseId ? "extended" : "mismatch"
                default: predicted = "notActive"
                }
            case .complete(let id, _, _), .fail(let id, _, _, _), .cancel(let id, _):
                let target: LeaseState =
                    switch command {
                    case .complete: .completed
                    case .fail: .failed
                    default: .canceled
                    }
                let name = target.rawValue
                switch model.state {
                case nil, .absent: predicted = "notFound"
                case .held: predicted = id == model.leaseId ? name : "mismatch"
                case let s? where s == target && id == model.leaseId:
                    // Only the identical call replays; another result for a finished lease conflicts.
                    if case .complete(_, let result, _) = command, result?.canonicalHash != model.resultHash {
                        predicted = "notActive"
                    } else {
                        predicted = name + "-replay"
                    }
                default: predicted = "notActive"
                }
            }

            let t = LeaseEngine.apply(
                command, to: stored, key: "job", now: now, quota: Quota(plan: .agency, usage: usage))
            kinds.insert(t.reply.kind)
            let context = "seed \(seed) step \(step): \(command) on \(String(describing: stored?.state))"
            #expect(t.reply.kind == predicted, "\(context)")

            // A write happens iff the call changed the lease or an expiry was found on the way.
            #expect((t.write != nil) == (t.reply.isMutation || expiry), "\(context)")
            if expiry { expiriesSeen += 1 }
            expiriesCounted += t.effects.counters.aiFailed
            if case .fail = command, t.reply.kind == "failed" { expiriesCounted -= 1 }

            if let written = t.write {
                writes += 1
                let before = stored?.version ?? 0
                #expect(written.version >= before, "\(context): version went back")
                if t.reply.isMutation {
                    // Every successful mutation moves the fencing counter by exactly one.
                    #expect(written.version == before + 1, "\(context)")
                } else {
                    // The only other write is recording an expiry, which keeps the version.
                    #expect(written.state == .expired, "\(context)")
                    #expect(written.version == before, "\(context)")
                    #expect(written.doneAt == stored?.deadline, "\(context)")
                }
            }

            // At most one holder: an acquisition only when nobody holds a live lease, and only
            // the holder's own id ever mutates it.
            switch t.reply {
            case .acquired(let r, let u):
                #expect(liveHolder == nil, "\(context): acquired over \(liveHolder ?? "")")
                if case .acquire(let a) = command { #expect(r.leaseId == a.newLeaseId) }
                #expect(u == usage + 1)
                #expect(t.effects.counters.aiCharged == 1)
                usage += 1
                issued.append(r.leaseId)
            case .extended(let r), .completed(let r, false), .failed(let r, false), .canceled(let r, false):
                #expect(liveHolder == r.leaseId, "\(context)")
                #expect(t.effects.counters.aiCharged == 0)
            default:
                #expect(t.effects.counters.aiCharged == 0, "\(context)")
            }

            // Move the model along.
            if t.reply.isMutation {
                model.version += 1
                switch command {
                case .acquire(let a):
                    model.state = .held
                    model.leaseId = a.newLeaseId
                    model.ttl = a.ttl
                    model.deadline = now.adding(seconds: a.ttl)
                    model.doneAt = nil
                case .extend(_, let newTTL):
                    model.ttl = newTTL ?? model.ttl
                    model.deadline = now.adding(seconds: model.ttl)
                case .complete(_, let result, _):
                    model.state = .completed
                    model.doneAt = now
                    model.resultHash = result?.canonicalHash
                case .fail: model.state = .failed; model.doneAt = now
                case .cancel: model.state = .canceled; model.doneAt = now
                }
            }
            if let written = t.write { stored = written }

            // The stored record agrees with the model.
            if let s = stored {
                #expect(s.state == model.state, "\(context)")
                #expect(s.version == model.version, "\(context)")
                #expect(s.leaseId == model.leaseId, "\(context)")
                if s.state == .held { #expect(s.deadline == model.deadline, "\(context)") }
            }
        }

        // Each expiry was counted exactly once (aiFailed from explicit fails subtracted above).
        #expect(expiriesCounted == Int64(expiriesSeen), "seed \(seed)")
        // The walk really covered the table.
        #expect(writes > 300)
        for kind in [
            "acquired", "busy", "finished", "extended", "completed", "failed", "canceled", "completed-replay",
            "failed-replay", "canceled-replay", "mismatch", "notActive",
        ] {
            #expect(kinds.contains(kind), "seed \(seed): never saw \(kind)")
        }
    }
}
