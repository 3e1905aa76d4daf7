import Foundation
import OnceCore
import OncePostgres
import OnceStore
import OnceStoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What only the shared store has: replicas with skewed clocks, and a database that goes away.
@Suite(
    "PostgreSQL store: the database clock decides; outages are retryable",
    .enabled(if: StoreFactory.all.contains { $0.name == "postgres" }))
struct PostgresStoreTests {
    @Test("a replica an hour ahead neither sees a live lease expired nor extends deadlines by its clock")
    func skewedReplicasAgree() async throws {
        let url = try await TestStores.newPostgresDatabase()
        let honest = try await TestStores.postgres(url: url)
        var skewed = PostgresStore.Options()
        skewed.recordsActivity = true
        let ahead = try await TestStores.postgres(
            url: url, options: skewed,
            localClock: {
                SQLiteStore.systemClock().adding(seconds: 3_600)
            })
        let created = try await honest.createKey(plan: .agency, name: nil, accountId: nil)
        guard case .valid(let account) = try await ahead.authenticate(apiKey: created.key) else {
            Issue.record("the key must authenticate on the other replica")
            return
        }
        let first = try await honest.lease(
            account: account, key: "skew",
            command: .acquire(.init(ttl: 30, newLeaseId: "lease_a")), requestId: nil)
        guard case .acquired(let held, _) = first else {
            Issue.record("first acquire: \(first)")
            return
        }
        // The replica whose local clock is an hour ahead must still see the lease held.
        let second = try await ahead.lease(
            account: account, key: "skew",
            command: .acquire(.init(ttl: 30, newLeaseId: "lease_b")), requestId: nil)
        guard case .busy(let seen, _) = second else {
            Issue.record("a skewed replica must see the lease held, got \(second)")
            return
        }
        #expect(seen.leaseId == held.leaseId)
        // An extend through the skewed replica sets the deadline by the database's clock.
        let extended = try await ahead.lease(
            account: account, key: "skew", command: .extend(leaseId: "lease_a", ttl: 30), requestId: nil)
        guard case .extended(let record) = extended else {
            Issue.record("extend: \(extended)")
            return
        }
        let lag = record.deadline.milliseconds - held.deadline.milliseconds
        #expect(lag >= 0 && lag < 10_000, "deadline moved by \(lag) ms; an hour would mean the local clock decided")
        // Its displayed clock follows the database, not its own.
        #expect(abs(ahead.now().milliseconds - honest.now().milliseconds) < 10_000)
    }

    @Test("an unreachable database is a retryable StoreError within the timeout, and unhealthy")
    func unreachableIsUnavailable() async throws {
        // A port nothing listens on: bind one, learn its number, close it.
        let url = try PostgresURL("postgres://nobody@127.0.0.1:\(try closedPort())/none?sslmode=disable")
        var options = PostgresStore.Options()
        options.operationTimeout = .seconds(2)
        options.connectTimeout = .seconds(1)
        let store = PostgresStore(url: url, options: options)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            let started = ContinuousClock.now
            do {
                _ = try await store.authenticate(apiKey: "once_live_x")
                Issue.record("must not answer")
            } catch let error as StoreError {
                #expect(error.isRetryable, "\(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(await store.isHealthy() == false)
        }
    }
}

/// A loopback port that was free a moment ago and has no listener now.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
