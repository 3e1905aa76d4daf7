import Foundation
import Logging
import PostgresNIO

/// Fresh, empty databases on a cluster, for test suites and benchmarks that need isolation.
public enum PostgresScratch {
    /// Creates a database with a new random name on the cluster `adminURL` points at and returns
    /// the URL of the new database.
    public static func createDatabase(adminURL: PostgresURL, prefix: String = "once_test") async throws -> PostgresURL {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        var url = adminURL
        let logger = Logger(label: "once.postgres.scratch")
        let connection = try await PostgresConnection.connect(
            configuration: try adminURL.connectionConfiguration, id: 1, logger: logger)
        do {
            // The name is ours (letters, digits, underscore), so it may be inlined.
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
        url.database = name
        return url
    }

    /// The cluster the test suite runs against (`ONCE_TEST_POSTGRES_URL`), or nil when none is set.
    public static var testClusterURL: PostgresURL? {
        guard let text = ProcessInfo.processInfo.environment["ONCE_TEST_POSTGRES_URL"], !text.isEmpty else {
            return nil
        }
        return try? PostgresURL(text)
    }
}
