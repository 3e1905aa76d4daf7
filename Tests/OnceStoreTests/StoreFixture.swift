import Foundation
import OnceCore
import OnceStore
import Synchronization

/// A clock the test moves by hand, so expiry and retention are tested without sleeping.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Timestamp = Timestamp(seconds: 1_767_225_600)) {  // 2026-01-01T00:00:00Z
        value = Mutex(start.milliseconds)
    }

    var now: Timestamp { Timestamp(milliseconds: value.withLock { $0 }) }

    func advance(seconds: Double) {
        value.withLock { $0 += Int64(seconds * 1000) }
    }

    var function: @Sendable () -> Timestamp { { self.now } }
}

/// How the conformance suite gets a fresh store; each implementation supplies one.
struct StoreFactory: Sendable, CustomStringConvertible {
    let name: String
    /// Opens a store on the same underlying database each time it is called with the same
    /// `location`, so tests can "restart" it.
    let open: @Sendable (_ location: String, _ clock: ManualClock) throws -> any OnceStorage
    let newLocation: @Sendable () throws -> String

    var description: String { name }

    static let sqlite = StoreFactory(
        name: "sqlite",
        open: { location, clock in try SQLiteStore(path: location, clock: clock.function) },
        newLocation: {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-store-\(UUID().uuidString)")
            return dir.appendingPathComponent("once.sqlite").path
        })

    /// Every store the conformance suite runs against.
    static let all: [StoreFactory] = [.sqlite]
}

struct StoreHarness {
    let factory: StoreFactory
    let location: String
    let clock: ManualClock
    var store: any OnceStorage

    init(_ factory: StoreFactory) throws {
        self.factory = factory
        self.location = try factory.newLocation()
        self.clock = ManualClock()
        self.store = try factory.open(location, clock)
    }

    /// Closes nothing explicitly: opening again on the same location is what a restarted
    /// server does.
    mutating func reopen() throws {
        store = try factory.open(location, clock)
    }

    func account(_ plan: Plan = .agency) async throws -> AccountContext {
        let created = try await store.createKey(plan: plan, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            throw HarnessError.authenticationFailed
        }
        return account
    }

    func acquire(
        _ account: AccountContext, _ key: String, ttl: Int = 30, metadata: JSONValue? = nil,
        retryFailed: Bool = false
    ) async throws -> LeaseReply {
        try await store.lease(
            account: account, key: key,
            command: .acquire(
                .init(ttl: ttl, metadata: metadata, newLeaseId: "lease_" + UUID().uuidString, retryFailed: retryFailed)),
            requestId: nil)
    }
}

enum HarnessError: Error { case authenticationFailed, unexpected(String) }

extension LeaseReply {
    var acquiredRecord: LeaseRecord? {
        if case .acquired(let r, _) = self { return r }
        return nil
    }
}
