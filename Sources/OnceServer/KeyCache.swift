import OnceStore
import Synchronization

/// API keys authenticated before, by their secret, for the routes whose store call re-checks
/// the key in its own database visit (`apiKeyId` of the transition primitives).
///
/// Authenticating was a database visit of its own on every request: a second pool checkout
/// and two more thread hand-offs before the request's read. What a key maps to never changes
/// (keys are never deleted, an account's plan is fixed); only revocation does, and the store
/// re-reads that in the same read as the request's record, so a key revoked by any process
/// (`once-server keys revoke` against the same file or database) is refused on its next
/// request. Unknown and revoked keys are never kept. Bounded: at ``capacity`` it starts over.
final class KeyCache: Sendable {
    let capacity: Int
    private let accounts = Mutex<[String: AccountContext]>([:])

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    func account(for token: String) -> AccountContext? {
        accounts.withLock { $0[token] }
    }

    func keep(_ account: AccountContext, for token: String) {
        accounts.withLock { accounts in
            if accounts.count >= capacity { accounts.removeAll(keepingCapacity: true) }
            accounts[token] = account
        }
    }

    func forget(_ token: String) {
        _ = accounts.withLock { $0.removeValue(forKey: token) }
    }
}
