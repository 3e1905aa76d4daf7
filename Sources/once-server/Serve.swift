import ArgumentParser
import Foundation
import Logging
import OnceCore
import OnceServer
import OnceStore

extension SQLiteStore.Durability: ExpressibleByArgument {}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension LogFormat: ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve API v1 over HTTP.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (the log line tells which).")
    var port = 8080

    @OptionGroup var database: DatabaseOption

    @Option(
        help: ArgumentHelp(
            "Status for a duplicate check-lock: 200 (default) or 409.",
            discussion: "Also read from $DUPLICATE_STATUS_CODE."))
    var duplicateStatusCode: Int?

    @Option(help: "Shortest TTL in seconds a lease or check-lock gets; shorter requests are raised to it.")
    var minTtl = Rules.defaultMinTTL

    @Option(help: "Largest request body in bytes; larger ones get 413.")
    var bodyLimit = 1 << 20

    @Option(help: "Commit durability: full (fsync each commit, survives power loss) or normal (survives a crash).")
    var durability: SQLiteStore.Durability = .full

    @Option(
        help: ArgumentHelp(
            "Seconds a request may wait for PostgreSQL before it gets 503 with Retry-After.",
            discussion: "Connecting, waiting for a pooled connection and the query all count."))
    var storeTimeout = 5

    @Option(help: "Seconds between retention sweeps (0 turns them off).")
    var sweepInterval = 60

    @Option(
        help: ArgumentHelp(
            "Requests per second each API key may make (token bucket refill); 0 turns limiting off.",
            discussion: "Counted per replica: behind several replicas a key may make up to that many times more."))
    var rateLimit: Double = 50

    @Option(help: "Requests a key may make at once before --rate-limit applies.")
    var rateBurst = 100

    @Option(
        help: ArgumentHelp(
            "File holding the key that seals tool secrets (64 hex characters, 32 bytes).",
            discussion: "Default: $ONCE_SERVER_SECRET_KEY (the 64 hex characters themselves), else "
                + "tool-secret.key beside the SQLite database, created with mode 0600 on first start. "
                + "With PostgreSQL give every replica the same key. The server refuses to start when tools "
                + "are stored and the key does not open their secrets.",
            valueName: "path"))
    var secretKeyFile: String?

    @Flag(help: "Let tool URLs point at loopback and private addresses (refused by default).")
    var allowPrivateToolUrls = false

    @Option(
        help: ArgumentHelp(
            "Log level: trace, debug, info, notice, warning, error, critical.",
            discussion: "At info and below every request gets one line (method, route, status, duration, request id)."))
    var logLevel: Logger.Level = .warning

    @Option(help: "Log line format: text or json (one object a line), on standard error.")
    var logFormat: LogFormat = .text

    @Flag(inversion: .prefixedNo, help: "Serve the dashboard under /ui.")
    var dashboard = true

    @Option(
        help: ArgumentHelp(
            "A file whose contents (at least 32 bytes) sign dashboard session cookies.",
            discussion:
                "Also $ONCE_SERVER_SESSION_SECRET. Without one a random secret is made at start: logins then end "
                + "when the server restarts, and replicas behind one address need the same secret.",
            valueName: "path"))
    var sessionSecretFile: String?

    @Option(help: "Hours a dashboard login lasts.")
    var sessionHours = 12

    @Option(
        help: ArgumentHelp(
            "Require `Authorization: Bearer TOKEN` on GET /metrics.",
            discussion: "Also $ONCE_SERVER_METRICS_TOKEN. Without one /metrics is open to whoever reaches the port.",
            valueName: "token"))
    var metricsToken: String?

    func validate() throws {
        if let code = duplicateStatusCode, code != 200, code != 409 {
            throw ValidationError("--duplicate-status-code must be 200 or 409, not \(code)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
        guard minTtl >= 1 else { throw ValidationError("--min-ttl must be at least 1") }
        guard bodyLimit >= 1024 else { throw ValidationError("--body-limit must be at least 1024") }
        guard sweepInterval >= 0 else { throw ValidationError("--sweep-interval must not be negative") }
        guard (1...300).contains(storeTimeout) else { throw ValidationError("--store-timeout must be 1–300 seconds") }
        guard rateLimit >= 0, rateLimit.isFinite else { throw ValidationError("--rate-limit must be 0 or more") }
        guard rateBurst >= 1 else { throw ValidationError("--rate-burst must be at least 1") }
        guard (1...24 * 30).contains(sessionHours) else { throw ValidationError("--session-hours must be 1–720") }
        if let metricsToken, metricsToken.isEmpty { throw ValidationError("--metrics-token must not be empty") }
    }

    /// The configured session secret: the file's bytes (trailing newline dropped) or the
    /// environment's; nil when neither is set.
    func sessionSecret() throws -> [UInt8]? {
        var secret: [UInt8]
        if let path = sessionSecretFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--session-secret-file: cannot read \(path)")
            }
            secret = Array(data)
            while let last = secret.last, last == 0x0A || last == 0x0D { secret.removeLast() }
        } else if let env = ProcessInfo.processInfo.environment["ONCE_SERVER_SESSION_SECRET"], !env.isEmpty {
            secret = Array(env.utf8)
        } else {
            return nil
        }
        guard secret.count >= 32 else { throw ValidationError("the session secret must be at least 32 bytes") }
        return secret
    }

    func run() async throws {
        var duplicate = duplicateStatusCode ?? 200
        if duplicateStatusCode == nil, let env = ProcessInfo.processInfo.environment["DUPLICATE_STATUS_CODE"] {
            guard let code = Int(env), code == 200 || code == 409 else {
                throw ValidationError("DUPLICATE_STATUS_CODE must be 200 or 409, not \(env)")
            }
            duplicate = code
        }
        let (format, level) = (logFormat, logLevel)
        let logger = Logger(label: "once-server") { label in
            ServerLogHandler(label: label, format: format, level: level)
        }
        var settings = ServerConfiguration(
            host: host, port: port, duplicateStatusCode: duplicate, minTTL: minTtl, bodyLimit: bodyLimit,
            sweepInterval: sweepInterval, rateLimit: rateLimit, rateBurst: rateBurst)
        settings.dashboard = dashboard
        settings.sessionSecret = try sessionSecret()
        settings.sessionLifetime = sessionHours * 3600
        let envToken = ProcessInfo.processInfo.environment["ONCE_SERVER_METRICS_TOKEN"].flatMap {
            $0.isEmpty ? nil : $0
        }
        settings.metricsToken = metricsToken ?? envToken
        settings.allowPrivateToolURLs = allowPrivateToolUrls
        let configuration = settings
        let secretKey = try ToolSecretKeyOption(file: secretKeyFile, location: try database.location)
        let shownDatabase = try database.location.description
        let host = self.host
        try await database.withStore(durability: durability, timeout: .seconds(storeTimeout), logLevel: logLevel) {
            [logger, configuration] store in
            var configuration = configuration
            configuration.toolSecrets = try await secretKey.open(checking: store)
            let app = OnceServerApp.application(store: store, configuration: configuration, logger: logger) { port in
                let shown = host.contains(":") ? "[\(host)]" : host
                print("once-server listening on http://\(shown):\(port) (database \(shownDatabase))")
                fflush(nil)
            }
            // Returns after SIGTERM or SIGINT once in-flight requests are done and the sweeper has
            // stopped; the store closes when this closure returns.
            try await app.runService()
        }
    }
}
