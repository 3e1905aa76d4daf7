import Hummingbird
import Logging
import OnceStore
import ServiceLifecycle

/// Runs retention in the background: small batches until a pass finds nothing, then sleeps.
struct SweepService: Service {
    let store: any OnceStorage
    let interval: Int
    let logger: Logger
    var metrics: ServerMetrics? = nil

    func run() async throws {
        // The service group asks services to stop by graceful shutdown, not cancellation;
        // without this the sweeper would keep the process alive after SIGTERM.
        try? await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        while !Task.isCancelled {
            do {
                var removed = 0
                while true {
                    let report = try await store.sweep(batchSize: 500)
                    removed += report.total
                    metrics?.sweep(report)
                    if report.total == 0 || Task.isCancelled { break }
                }
                metrics?.sweepRuns.increment()
                if removed > 0 { logger.debug("retention sweep", metadata: ["rows": "\(removed)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.error("retention sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(interval))
        }
    }
}
