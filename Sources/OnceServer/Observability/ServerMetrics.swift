import OnceCore
import OnceStore
import Prometheus
import Synchronization

/// once-server's Prometheus metrics (`GET /metrics`).
///
/// Every family is declared here, once, when the server starts: swift-prometheus stops the
/// process when a name is declared again with another type or other label names, so no code
/// elsewhere names a metric. Labelled series are made on first use from these declarations
/// (same name, same label names), and kept so a hot path does not look them up again.
public final class ServerMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()

    enum Family {
        static var httpRequests: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", subsystem: "http", metricName: "requests", unitName: "total",
                helpText: "HTTP requests answered, by route pattern, method and status code.")
        }
        static var httpDuration: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                helpText: "Time from request head to response head, by route pattern.")
        }
        static var checkLocks: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "check_locks", unitName: "total",
                helpText: "Check-lock answers by outcome: locked, duplicate, over_limit.")
        }
        static var leaseTransitions: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "lease_transitions", unitName: "total",
                helpText: "Lease answers by transition: acquired, polling, finished (a repeat of a finished key), "
                    + "extended, completed, failed, canceled, expired (by the sweeper), rejected, over_limit.")
        }
        static var leasesHeld: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "leases_held", unitName: "",
                helpText: "Leases held right now in all accounts (read from the store at each scrape).")
        }
        static var sweeps: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "sweeper_runs", unitName: "total",
                helpText: "Retention sweeps this replica ran (a pass until nothing was left).")
        }
        static var sweepRows: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "sweeper_rows", unitName: "total",
                helpText: "Rows the sweeper expired or purged, by kind.")
        }
        static var rateLimited: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "rate_limited_requests", unitName: "total",
                helpText: "Requests answered 429 by the per-key rate limit.")
        }
        static var commitDuration: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", subsystem: "store", metricName: "commit_duration", unitName: "seconds",
                helpText: "Time of one committed store write transaction, from its start to the return of COMMIT.")
        }
        static var commitBatch: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", subsystem: "store", metricName: "commit_batch_size", unitName: "",
                helpText: "Requests' writes carried by one commit (SQLite group commit batches them; PostgreSQL: 1).")
        }
        static var buildInfo: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "once", metricName: "build_info", unitName: "",
                helpText: "Always 1; the labels say which once-server this is.")
        }
    }

    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    static let checkLockOutcomes = ["locked", "duplicate", "over_limit"]
    static let leaseTransitionNames = [
        "acquired", "polling", "finished", "extended", "completed", "failed", "canceled", "expired", "rejected",
        "over_limit",
    ]
    static let sweepKinds = [
        "leases_expired", "leases_purged", "check_locks", "feed_events", "run_events", "agent_logs",
    ]

    private let httpCounters = Mutex<[String: Counter]>([:])
    private let httpHistograms = Mutex<[String: DurationHistogram]>([:])
    private let checkLockCounters: [String: Counter]
    private let leaseCounters: [String: Counter]
    private let sweepRowCounters: [String: Counter]
    let sweepRuns: Counter
    let rateLimited: Counter
    let leasesHeld: Gauge
    let commitDuration: DurationHistogram
    let commitBatch: ValueHistogram

    public init() {
        let (version, revision) = (OnceVersion.version, OnceVersion.revision)
        let r = registry
        checkLockCounters = Dictionary(
            uniqueKeysWithValues: Self.checkLockOutcomes.map {
                ($0, r.makeCounter(descriptor: Family.checkLocks, labels: [("outcome", $0)]))
            })
        leaseCounters = Dictionary(
            uniqueKeysWithValues: Self.leaseTransitionNames.map {
                ($0, r.makeCounter(descriptor: Family.leaseTransitions, labels: [("transition", $0)]))
            })
        sweepRowCounters = Dictionary(
            uniqueKeysWithValues: Self.sweepKinds.map {
                ($0, r.makeCounter(descriptor: Family.sweepRows, labels: [("kind", $0)]))
            })
        sweepRuns = r.makeCounter(descriptor: Family.sweeps)
        rateLimited = r.makeCounter(descriptor: Family.rateLimited)
        leasesHeld = r.makeGauge(descriptor: Family.leasesHeld)
        commitDuration = r.makeDurationHistogram(descriptor: Family.commitDuration, buckets: Self.durationBuckets)
        commitBatch = r.makeValueHistogram(
            descriptor: Family.commitBatch, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        r.makeGauge(descriptor: Family.buildInfo, labels: [("version", version), ("revision", revision)]).set(to: 1)
    }

    // MARK: Recording

    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = "\(route) \(method) \(status)"
        let counter = httpCounters.withLock { counters in
            if let c = counters[key] { return c }
            let c = registry.makeCounter(
                descriptor: Family.httpRequests,
                labels: [("route", route), ("method", method), ("status", String(status))])
            counters[key] = c
            return c
        }
        counter.increment()
        let histogram = httpHistograms.withLock { histograms in
            if let h = histograms[route] { return h }
            let h = registry.makeDurationHistogram(
                descriptor: Family.httpDuration, labels: [("route", route)], buckets: Self.durationBuckets)
            histograms[route] = h
            return h
        }
        histogram.record(duration)
    }

    func checkLock(_ outcome: String) { checkLockCounters[outcome]?.increment() }

    func leaseTransition(_ transition: String) { leaseCounters[transition]?.increment() }

    func sweep(_ report: SweepReport) {
        sweepRowCounters["leases_expired"]?.increment(by: Int64(report.leasesExpired))
        sweepRowCounters["leases_purged"]?.increment(by: Int64(report.leasesPurged))
        sweepRowCounters["check_locks"]?.increment(by: Int64(report.checkLocksRemoved))
        sweepRowCounters["feed_events"]?.increment(by: Int64(report.feedEventsRemoved))
        sweepRowCounters["run_events"]?.increment(by: Int64(report.runEventsRemoved))
        sweepRowCounters["agent_logs"]?.increment(by: Int64(report.agentLogsRemoved))
        // An expiry by the sweeper is a lease transition too.
        leaseCounters["expired"]?.increment(by: Int64(report.leasesExpired))
    }

    /// One committed store transaction, as the store reports it (``OnceStorage/observeCommits(_:)``):
    /// how long it took and how many requests' writes it carried.
    package func recordCommit(duration: Duration, batchSize: Int) {
        commitDuration.record(duration)
        commitBatch.record(Double(batchSize))
    }

    /// The exposition text, after refreshing what is read at scrape time.
    func scrape(store: any OnceStorage) async -> [UInt8] {
        if let held = try? await store.heldLeaseCount() { leasesHeld.set(to: Double(held)) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }
}
