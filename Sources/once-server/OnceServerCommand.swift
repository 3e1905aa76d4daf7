import ArgumentParser
import Foundation
import OnceCore
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
        version: "0.1.0",
        subcommands: [Serve.self, Keys.self],
        defaultSubcommand: Serve.self
    )
}

/// Where the database lives unless `--database` says otherwise.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Path of the SQLite database file; created if missing.",
            discussion: "Default: $ONCE_SERVER_DATABASE, else $XDG_DATA_HOME/once/once-server.sqlite "
                + "(~/.local/share/once/once-server.sqlite).",
            valueName: "path"))
    var database: String?

    var path: String {
        if let database { return database }
        let env = ProcessInfo.processInfo.environment
        if let configured = env["ONCE_SERVER_DATABASE"], !configured.isEmpty { return configured }
        let dataHome =
            env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (dataHome as NSString).appendingPathComponent("once/once-server.sqlite")
    }

    func open(durability: SQLiteStore.Durability = .full) throws -> SQLiteStore {
        do {
            return try SQLiteStore(path: path, durability: durability)
        } catch {
            throw ValidationError("cannot open database \(path): \(error)")
        }
    }
}
