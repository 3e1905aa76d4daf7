import Foundation
import GRDB
import HTTPTypes
import OnceCore
import OnceStore
import Testing

/// How store failures reach clients: retryable ones as 503 with Retry-After, the rest as a 500
/// with a request id and nothing of the database in the body.
@Suite("API: store failures")
struct StoreFailureAPITests {
    func lockedStore() throws -> (SQLiteStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("once-fail-\(UUID().uuidString)")
            .appendingPathComponent("once.sqlite").path
        return (try SQLiteStore(path: path, busyTimeout: 0.2), path)
    }

    @Test("a database locked by another process answers 503 + Retry-After, then recovers")
    func lockedIs503() async throws {
        let (store, path) = try lockedStore()
        let harness = try await APIHarness(store: store)
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true  // the point: a transaction left open
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try await harness.run { api in
            try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
            let r = try await api.post("/v1/ai/lease", #"{"key":"k","ttl":30}"#)
            #expect(r.status == .serviceUnavailable)
            #expect(r.headers[HTTPField.Name("Retry-After")!] == "1")
            #expect(r.errorCode == "store_unavailable")
            #expect(!r.text.lowercased().contains("sqlite"))
            try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
            let again = try await api.post("/v1/ai/lease", #"{"key":"k","ttl":30}"#)
            #expect(again.status == .ok)
            #expect(again.json["status"]?.stringValue == "acquired")
        }
    }

    @Test("a row that does not decode answers 500 with the request id and no internals")
    func corruptIs500() async throws {
        let (store, path) = try lockedStore()
        let harness = try await APIHarness(store: store)
        try await harness.run { api in
            #expect(try await api.post("/v1/ai/lease", #"{"key":"k","ttl":30}"#).status == .ok)
            let other = try DatabaseQueue(path: path)
            try await other.write { db in try db.execute(sql: "UPDATE leases SET state = 'zombie'") }
            let r = try await api.request(.get, "/v1/ai/status?key=k", headers: [.requestId: "req-corrupt-1"])
            #expect(r.status == .internalServerError)
            #expect(r.json["request_id"]?.stringValue == "req-corrupt-1")
            #expect(r.json["detail"]?.stringValue == "Internal Server Error")
            #expect(!r.text.contains("zombie") && !r.text.lowercased().contains("column"))
        }
    }
}
