/// The daily metrics of API §12.3, named once: the wire name is the column name in every store,
/// and each case knows its counter in ``CounterDelta`` and its value in ``DayMetrics``.
public enum DailyMetric: String, Sendable, CaseIterable {
    case checksTotal = "checks_total"
    case locksCreated = "locks_created"
    case duplicatesBlocked = "duplicates_blocked"
    case rateLimited = "rate_limited"
    case aiAcquired = "ai_acquired"
    case aiCompleted = "ai_completed"
    case aiFailed = "ai_failed"

    /// The increment a transition contributes to this metric.
    public var counter: WritableKeyPath<CounterDelta, Int64> {
        switch self {
        case .checksTotal: \.checksTotal
        case .locksCreated: \.locksCreated
        case .duplicatesBlocked: \.duplicatesBlocked
        case .rateLimited: \.rateLimited
        case .aiAcquired: \.aiAcquired
        case .aiCompleted: \.aiCompleted
        case .aiFailed: \.aiFailed
        }
    }
}

/// One day's metrics for one account.
public struct DayMetrics: Sendable, Equatable {
    private var values: [DailyMetric: Int64] = [:]

    public init() {}

    public subscript(metric: DailyMetric) -> Int64 {
        get { values[metric] ?? 0 }
        set { values[metric] = newValue }
    }
}

extension CounterDelta {
    /// The daily-metric increments, in ``DailyMetric/allCases`` order.
    public var dailyIncrements: [Int64] { DailyMetric.allCases.map { self[keyPath: $0.counter] } }
}

/// How long each kind of row is kept (API §15 row 32).
public enum Retention {
    /// A finished lease keeps its data this long, then becomes a tombstone.
    public static let leaseSeconds = 7 * 86_400
    public static let feedSeconds = 7 * 86_400
    public static let runEventSeconds = 30 * 86_400
}
