/// A billing plan and the limits that come with it (API §2).
///
/// Self-hosted accounts default to ``agency``; the plan is chosen per account when its first
/// key is created.
public enum Plan: String, Sendable, CaseIterable, Codable {
    case free, starter, pro, agency

    public var limits: PlanLimits {
        switch self {
        case .free:
            PlanLimits(makePerMonth: 1_000, aiPerMonth: 3_000, defaultTTL: 60, maxTTL: 3_600, tools: 1, hardCap: true)
        case .starter:
            PlanLimits(
                makePerMonth: 20_000, aiPerMonth: 100_000, defaultTTL: 3_600, maxTTL: 86_400, tools: 20, hardCap: false)
        case .pro:
            PlanLimits(
                makePerMonth: 200_000, aiPerMonth: 1_000_000, defaultTTL: 21_600, maxTTL: 604_800, tools: 100,
                hardCap: false)
        case .agency:
            PlanLimits(
                makePerMonth: 2_000_000, aiPerMonth: 10_000_000, defaultTTL: 86_400, maxTTL: 2_592_000, tools: 1_000,
                hardCap: false)
        }
    }
}

public struct PlanLimits: Sendable, Equatable {
    public var makePerMonth: Int64
    public var aiPerMonth: Int64
    /// Seconds used when a request names no TTL.
    public var defaultTTL: Int
    /// Longest TTL a request may get; longer ones are clamped to it.
    public var maxTTL: Int
    public var tools: Int
    /// A hard-capped plan refuses work with 402 once the month's usage reaches the limit;
    /// the others keep serving.
    public var hardCap: Bool

    public func limit(for kind: UsageKind) -> Int64 {
        switch kind {
        case .make: makePerMonth
        case .ai: aiPerMonth
        }
    }
}

/// The two metered kinds of work (API §12.1).
public enum UsageKind: String, Sendable, CaseIterable, Codable {
    /// check-lock.
    case make
    /// leases and runs.
    case ai
}

/// What the engine needs to know about the month's usage before a metered call.
public struct Quota: Sendable, Equatable {
    public var plan: Plan
    public var usage: Int64

    public init(plan: Plan, usage: Int64) {
        self.plan = plan
        self.usage = usage
    }

    func exhausted(_ kind: UsageKind) -> Bool {
        plan.limits.hardCap && usage >= plan.limits.limit(for: kind)
    }
}
