import OnceCore

/// What an operator can set on `once-server serve`.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// 200 (default) or 409 for duplicate check-locks (API §4, `DUPLICATE_STATUS_CODE`).
    public var duplicateStatusCode: Int
    /// Lower bound for TTLs, 10 s as the official service; tests lower it to see expiry quickly.
    public var minTTL: Int
    /// Largest request body accepted; larger ones get 413.
    public var bodyLimit: Int
    /// Seconds between retention sweeps; 0 turns the sweeper off.
    public var sweepInterval: Int
    /// Requests per second each API key may make on this replica (token bucket refill); 0
    /// turns rate limiting off. Defaults from API §15 row 34.
    public var rateLimit: Double
    /// Requests a key may make at once before the refill rate applies.
    public var rateBurst: Int
    /// Serve the dashboard under `/ui`.
    public var dashboard = true
    /// Signs dashboard session cookies; nil makes a random one at start-up (sessions then end
    /// on restart and are not shared between replicas).
    public var sessionSecret: [UInt8]? = nil
    /// Seconds a dashboard login lasts.
    public var sessionLifetime = 12 * 3600
    /// When set, `GET /metrics` needs `Authorization: Bearer <token>`.
    public var metricsToken: String? = nil
    /// Seals and opens tool secrets (API §10); nil answers 500 to a tool that needs one. The
    /// `serve` command always sets it (see ``ToolSecretBox``).
    public var toolSecrets: ToolSecretBox? = nil
    /// Whether tool URLs may point at loopback and private addresses (`--allow-private-tool-urls`).
    public var allowPrivateToolURLs = false
    /// First pause between attempts of a tool call; doubles per retry, capped at 5 s (API §10.3).
    public var toolRetryBaseDelay: Duration = .milliseconds(500)

    public init(
        host: String = "127.0.0.1", port: Int = 8080, duplicateStatusCode: Int = 200, minTTL: Int = Rules.defaultMinTTL,
        bodyLimit: Int = 1 << 20, sweepInterval: Int = 60, rateLimit: Double = 50, rateBurst: Int = 100
    ) {
        self.rateLimit = rateLimit
        self.rateBurst = rateBurst
        self.host = host
        self.port = port
        self.duplicateStatusCode = duplicateStatusCode
        self.minTTL = minTTL
        self.bodyLimit = bodyLimit
        self.sweepInterval = sweepInterval
    }
}
