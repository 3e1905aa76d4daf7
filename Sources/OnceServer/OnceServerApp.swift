import Hummingbird
import Logging
import NIOCore
import OnceCore
import OnceStore
import ServiceLifecycle

/// Builds the once-server application: routes of API v1 over a store.
public enum OnceServerApp {
    /// `metrics`: the process's one set of metric families (``application(store:configuration:logger:onListening:)``
    /// shares it with the sweeper); nil makes one for this router.
    public static func router(
        store: any OnceStorage, configuration: ServerConfiguration, metrics: ServerMetrics? = nil
    ) -> Router<OnceRequestContext> {
        let metrics = metrics ?? ServerMetrics()
        store.observeCommits { duration, writes in metrics.recordCommit(duration: duration, batchSize: writes) }
        let api = APIRoutes(store: store, configuration: configuration)
        var table = RouteTable()
        let router = Router(context: OnceRequestContext.self)
        for route in api.routes { table.add(route.method, "/v1/" + route.path) }
        table.add(.get, "/healthz")
        table.add(.get, "/metrics")
        // A template that does not parse is a build mistake every dashboard test catches.
        let dashboard = configuration.dashboard ? try! Dashboard(store: store, configuration: configuration) : nil
        if dashboard != nil { for (method, path) in Dashboard.paths { table.add(method, path) } }
        router.add(middleware: RequestObserver(metrics: metrics))
        router.add(middleware: EnvelopeMiddleware(routes: table, bodyLimit: configuration.bodyLimit))
        // A load balancer drains a replica whose database does not answer.
        router.get("/healthz") { _, _ in
            guard await store.isHealthy() else {
                return JSONResponse.make(
                    .object(["status": .string("unavailable"), "store": .string("down")]),
                    status: .serviceUnavailable, headers: [.retryAfter: "1"])
            }
            return JSONResponse.make(.object(["status": .string("ok"), "store": .string("up")]))
        }
        let storeChecked = Set(api.routes.filter { $0.checksKeyInStore && $0.method == .post }.map { "/v1/" + $0.path })
        let v1 = router.group("v1").add(
            middleware: AuthMiddleware(
                store: store, limiter: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst),
                cache: KeyCache(), storeChecked: storeChecked))
        api.register(on: v1.group(context: AuthenticatedContext.self))
        dashboard?.register(on: router)
        MetricsRoute.register(on: router, metrics: metrics, store: store, token: configuration.metricsToken)
        return router
    }

    /// An application listening on `configuration.host:port`. `onListening` receives the bound
    /// port (useful with port 0).
    public static func application(
        store: any OnceStorage, configuration: ServerConfiguration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var services: [any Service] = []
        let metrics = ServerMetrics()
        if configuration.sweepInterval > 0 {
            services.append(
                SweepService(store: store, interval: configuration.sweepInterval, logger: logger, metrics: metrics))
        }
        return Application(
            router: router(store: store, configuration: configuration, metrics: metrics),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
