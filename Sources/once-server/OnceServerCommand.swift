import ArgumentParser
import Foundation
import Logging
import OnceCore
import OncePostgres
import OnceServer
import OnceStore

@main
struct OnceServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "once-server",
        abstract: "A self-hosted server for the OnceOnly REST API v1: check-locks, leases, runs and events.",
        discussion: """
            Start with `once-server keys create` to get an API key, then `once-server serve`. Clients use
            ONCEONLY_BASE_URL=http://HOST:PORT and ONCEONLY_API_KEY=<key>.
            """,
        version: OnceVersion.text,
        subcommands: [Serve.self, Keys.self],
        defaultSubcommand: Serve.self
    )
}

/// Where the database lives unless `--database` says otherwise.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The SQLite file (created if missing) or a postgres://USER[:PASS]@HOST:PORT/DB[?sslmode=…] URL.",
            discussion: "Default: $ONCE_SERVER_DATABASE, else $XDG_DATA_HOME/once/once-server.sqlite "
                + "(~/.local/share/once/once-server.sqlite). sslmode: disable, prefer (default), require, "
                + "verify-full.",
            valueName: "path-or-url"))
    var database: String?

    enum Location {
        case sqlite(path: String)
        case postgres(PostgresURL)

        var description: String {
            switch self {
            case .sqlite(let path): path
            case .postgres(let url): url.description
            }
        }
    }

    var text: String {
        if let database { return database }
        let env = ProcessInfo.processInfo.environment
        if let configured = env["ONCE_SERVER_DATABASE"], !configured.isEmpty { return configured }
        let dataHome =
            env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (dataHome as NSString).appendingPathComponent("once/once-server.sqlite")
    }

    /// A URL (anything with a scheme) must be a PostgreSQL URL that parses; only a plain path is
    /// a SQLite file, so `postgres:/…` typos never create a file in a folder named `postgres:`.
    var location: Location {
        get throws {
            let text = self.text
            guard PostgresURL.looksLikeURL(text) else {
                return .sqlite(path: text)
            }
            do {
                return .postgres(try PostgresURL(text))
            } catch {
                throw ValidationError("--database: \(error)")
            }
        }
    }

    func validate() throws { _ = try location }

    /// Opens the store for the duration of `body`, then closes it.
    func withStore<T: Sendable>(
        durability: SQLiteStore.Durability = .full, timeout: Duration = .seconds(5),
        logLevel: Logger.Level = .error, _ body: @Sendable (any OnceStorage) async throws -> T
    ) async throws -> T {
        switch try location {
        case .sqlite(let path):
            let store: SQLiteStore
            do {
                // Reads on their own connections: fewer thread hand-offs per request (ReadConnections).
                store = try SQLiteStore(path: path, durability: durability, readConnections: 4)
            } catch {
                throw ValidationError("cannot open database \(path): \(error)")
            }
            let result = try await body(store)
            // Counters of answers made from a read wait in memory for the next write: a clean
            // stop writes them; only a crash loses them (README, "Answers from a read").
            try? await store.flushActivity()
            return result
        case .postgres(let url):
            do {
                var options = PostgresStore.Options()
                options.operationTimeout = timeout
                options.connectTimeout = min(timeout, .seconds(3))
                var logger = Logger(label: "once-server.postgres")
                logger.logLevel = logLevel
                return try await PostgresStore.with(url: url, options: options, logger: logger) { store in
                    try await body(store)
                }
            } catch let error as StoreError where error.isRetryable {
                // EX_UNAVAILABLE: a supervisor may simply try again later.
                FileHandle.standardError.write(Data("Error: database \(url): \(error)\n".utf8))
                throw ExitCode(69)
            } catch let error as StoreError {
                throw ValidationError("database \(url): \(error)")
            }
        }
    }
}
