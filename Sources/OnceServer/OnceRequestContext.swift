import Hummingbird
import Logging
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
}

/// The context of every `/v1` route: built from ``OnceRequestContext`` after ``AuthMiddleware``
/// ran, so `account` is not optional and no handler can forget to authenticate.
struct AuthenticatedContext: ChildRequestContext {
    typealias ParentContext = OnceRequestContext
    var coreContext: CoreRequestContextStorage
    let requestId: String
    let account: AccountContext

    init(context: OnceRequestContext) throws {
        // The group adds AuthMiddleware before this transform, so a request without an
        // account never gets here; answering 401 keeps even a wiring mistake safe.
        guard let account = context.account else { throw APIError.missingToken }
        self.coreContext = context.coreContext
        self.requestId = context.requestId
        self.account = account
        self.logger[metadataKey: "account_id"] = "\(account.accountId)"
    }
}
