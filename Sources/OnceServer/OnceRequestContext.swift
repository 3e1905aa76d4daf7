import Hummingbird
import NIOCore
import OnceStore

/// Per-request state: the request id every response carries, and the caller's account once
/// ``AuthMiddleware`` has checked the key.
public struct OnceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    public var account: AccountContext?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// The authenticated account; routes behind ``AuthMiddleware`` always have one.
    func requireAccount() throws -> AccountContext {
        guard let account else { throw APIError.missingToken }
        return account
    }
}
