import HTTPTypes
import Hummingbird
import Logging
import OnceStore

/// In front of every `/ui` route: pages without a valid session go to the login form; every
/// error becomes an HTML page (never the API's JSON envelope); every response carries the
/// Content-Security-Policy and the other headers that keep the pages inert elsewhere.
struct DashboardGate: RouterMiddleware {
    typealias Context = OnceRequestContext
    let dashboard: Dashboard

    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"

    /// Reachable without a session.
    static let publicPaths: Set<String> = ["/ui/login", "/ui/logout", "/ui/static/dashboard.css"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            if Self.publicPaths.contains(request.uri.path) {
                response = try await next(request, context)
            } else if let found = try await dashboard.account(for: request) {
                var context = context
                context.account = found.0
                response = try await next(request, context)
            } else {
                response = Dashboard.redirect("/ui/login")
            }
        } catch DashboardError.loginRequired {
            response = Dashboard.redirect("/ui/login")
        } catch DashboardError.notFound(let message) {
            response = errorPage(message, status: .notFound)
        } catch DashboardError.badRequest(let message) {
            response = errorPage(message, status: .badRequest)
        } catch let error as StoreError where error.isRetryable {
            context.logger.warning("store unavailable", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = errorPage(
                "The database is unavailable right now; try again in a moment.", status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
        } catch let error as HTTPError {
            response = errorPage(error.body ?? error.status.reasonPhrase, status: error.status)
        } catch {
            context.logger.error(
                "dashboard page failed",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            response = errorPage("Something went wrong (request \(context.requestId)).", status: .internalServerError)
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }

    private func errorPage(_ message: String, status: HTTPResponse.Status) -> Response {
        // A plain page: the layout needs a session, and an error may come before one.
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(status.code) · once-server</title>
            <link rel="stylesheet" href="/ui/static/dashboard.css"></head><body><main><h1>\(status.code) \(
                status.reasonPhrase.htmlEscaped)</h1>
            <p class="flash bad">\(message.htmlEscaped)</p><p><a href="/ui">Back to the overview</a></p></main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

extension String {
    /// For the few strings written outside a template.
    var htmlEscaped: String {
        var out = ""
        for c in self {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
