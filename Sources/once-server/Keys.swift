import ArgumentParser
import Foundation
import OnceCore
import OnceStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create an API key and print it (only the key, on stdout). It is shown once; only its hash is kept.")

        @OptionGroup var database: DatabaseOption

        @Option(help: "Plan of the new account: free, starter, pro or agency.")
        var plan: Plan = .agency

        @Option(help: "A label for the key (and its account).")
        var name: String?

        @Option(help: "Add the key to this existing account id instead of creating an account.")
        var account: Int64?

        func run() async throws {
            let (plan, name, account) = (self.plan, self.name, self.account)
            let created = try await database.withStore { store in
                do {
                    return try await store.createKey(plan: plan, name: name, accountId: account)
                } catch let error as StoreError {
                    throw ValidationError(error.description)
                }
            }
            print(created.key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (never the secrets).")

        @OptionGroup var database: DatabaseOption

        @Flag(help: "Print JSON lines instead of a table.")
        var json = false

        func run() async throws {
            let keys = try await database.withStore { store in try await store.listKeys() }
            if json {
                for k in keys {
                    let line: JSONValue = .object([
                        "id": .int(k.id), "account_id": .int(k.accountId), "plan": .string(k.plan.rawValue),
                        "name": k.name.map { .string($0) } ?? .null, "preview": .string(k.preview),
                        "created_at": .string(k.createdAt.iso8601),
                        "revoked_at": k.revokedAt.map { .string($0.iso8601) } ?? .null,
                    ])
                    print(line.canonicalText)
                }
                return
            }
            print(["ID", "ACCOUNT", "PLAN", "PREVIEW", "CREATED", "STATUS", "NAME"].joined(separator: "\t"))
            for k in keys {
                let status = k.revokedAt.map { "revoked \($0.iso8601)" } ?? "active"
                print(
                    [
                        String(k.id), String(k.accountId), k.plan.rawValue, k.preview, k.createdAt.iso8601, status,
                        k.name ?? "",
                    ]
                    .joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an API key; requests with it then get 403 \"API key disabled\".")

        @OptionGroup var database: DatabaseOption

        @Argument(help: "The key's id (from `keys list`), its preview, or the key itself.")
        var key: String

        func run() async throws {
            let key = self.key
            let revoked = try await database.withStore { store in
                do {
                    return try await store.revokeKey(key)
                } catch let error as StoreError {
                    throw ValidationError(error.description)
                }
            }
            guard let revoked else { throw ValidationError("no API key matches \(key)") }
            print("revoked key \(revoked.id) (\(revoked.preview))")
        }
    }
}

extension Plan: ExpressibleByArgument {}
