import OnceStore
import PostgresNIO
import _ConnectionPoolModule

extension PostgresStore {
    /// The one place PostgreSQL's errors become ``StoreError``. Everything that a retry can fix
    /// (connection refused or lost, the server starting up or shutting down, serialization and
    /// deadlock aborts, too many connections) is ``StoreError/unavailable(_:)``.
    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresTransactionError {
            let inner = error.beginError ?? error.closureError ?? error.commitError
            return inner.map(map) ?? .failure("transaction failed")
        }
        if error is PostgresDecodingError { return .corrupt("a column does not decode") }
        if error is CancellationError { return .unavailable("the request was cancelled") }
        // The pool was shut down under the request (replaced after an outage) or timed it out.
        if error is ConnectionPoolError { return .unavailable("no pooled connection") }
        guard let error = error as? PSQLError else { return .failure(String(describing: type(of: error))) }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            // 08: connection exception; 40001/40P01: serialization failure/deadlock; 53: insufficient
            // resources; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
            if state.hasPrefix("08") || state == "40001" || state == "40P01" || state.hasPrefix("53")
                || state.hasPrefix("57P")
            {
                return .unavailable("PostgreSQL answered \(state)")
            }
            return .failure("PostgreSQL error \(state)")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .queryCancelled, .sslUnsupported:
            return .unavailable("cannot reach PostgreSQL")
        default:
            return .failure("PostgreSQL client error \(error.code)")
        }
    }
}
