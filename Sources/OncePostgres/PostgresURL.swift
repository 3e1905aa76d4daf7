import Foundation
import OnceStore
import PostgresNIO

/// A `postgres://USER[:PASS]@HOST[:PORT]/DB[?sslmode=…]` URL, parsed strictly: anything that
/// does not parse is an error naming what is wrong, never a guess.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        /// Like `require`, and the certificate and host name are verified (always the case here).
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public static let schemes = ["postgres", "postgresql"]

    public init(_ text: String) throws(URLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw URLError("cannot parse \(Self.redacted(text)) as a URL")
        }
        guard Self.schemes.contains(scheme) else {
            throw URLError("unknown database URL scheme '\(scheme):' (use postgres://… or a file path)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw URLError("the PostgreSQL URL names no host: \(Self.redacted(text))")
        }
        guard let user = components.user, !user.isEmpty else {
            throw URLError("the PostgreSQL URL names no user: postgres://USER[:PASS]@HOST:PORT/DB")
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else {
            throw URLError("the PostgreSQL URL names no database: postgres://USER[:PASS]@HOST:PORT/DB")
        }
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = SSLMode(rawValue: value) else {
                    throw URLError(
                        "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            default:
                throw URLError("unknown PostgreSQL URL parameter '\(item.name)' (only sslmode is understood)")
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = path.removingPercentEncoding ?? path
        self.sslMode = mode
    }

    /// Whether `text` is meant as a URL rather than a file path: it starts with `scheme:/`.
    public static func looksLikeURL(_ text: String) -> Bool {
        text.range(of: #"^[A-Za-z][A-Za-z0-9+.-]+:/"#, options: .regularExpression) != nil
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    static func redacted(_ text: String) -> String {
        // user:secret@host → user:***@host
        text.replacingOccurrences(of: #"(//[^:/@]+:)[^@]*@"#, with: "$1***@", options: .regularExpression)
    }

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require, .verifyFull: .require(.makeClientConfiguration())
            }
        return PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// The same server for a single connection (probes, scratch databases).
    var connectionConfiguration: PostgresConnection.Configuration {
        get throws {
            let tls: PostgresConnection.Configuration.TLS =
                switch sslMode {
                case .disable: .disable
                case .prefer: .prefer(try .init(configuration: .makeClientConfiguration()))
                case .require, .verifyFull: .require(try .init(configuration: .makeClientConfiguration()))
                }
            return PostgresConnection.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
    }

    public struct URLError: Error, CustomStringConvertible, Equatable {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
