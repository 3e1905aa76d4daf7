import Hummingbird
import Logging
import NIOCore
import OnceCore
import OnceStore
import ServiceLifecycle

/// Builds the once-server application: routes of API v1 over a store.
public enum OnceServerApp {
    public static func router(store: any OnceStorage, configuration: ServerConfiguration) -> Router<OnceRequestContext>
    {
        let api = APIRoutes(store: store, configuration: configuration)
        var table = RouteTable()
        let router = Router(context: OnceRequestContext.self)
        for route in api.routes { table.add(route.method, "/v1/" + route.path) }
        table.add(.get, "/healthz")
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
        let v1 = router.group("v1").add(
            middleware: AuthMiddleware(
                store: store, limiter: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst)))
        api.register(on: v1.group(context: AuthenticatedContext.self))
        return router
    }

    /// An application listening on `configuration.host:port`. `onListening` receives the bound
    /// port (useful with port 0).
    public static func application(
        store: any OnceStorage, configuration: ServerConfiguration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var services: [any Service] = []
        if configuration.sweepInterval > 0 {
            services.append(SweepService(store: store, interval: configuration.sweepInterval, logger: logger))
        }
        return Application(
            router: router(store: store, configuration: configuration),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
