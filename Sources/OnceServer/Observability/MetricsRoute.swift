import HTTPTypes
import Hummingbird
import NIOCore
import OnceStore

/// `GET /metrics`: the Prometheus text format. Open unless `--metrics-token` is set; then a
/// scraper sends `Authorization: Bearer TOKEN` (Prometheus' `authorization` setting).
enum MetricsRoute {
    static func register(
        on router: Router<OnceRequestContext>, metrics: ServerMetrics, store: any OnceStorage, token: String?
    ) {
        router.get("/metrics") { request, _ in
            if let token {
                let expected = Array("Bearer \(token)".utf8)
                let given = Array((request.headers[.authorization] ?? "").utf8)
                guard HMACSHA256.equal(given, expected) else {
                    return Response(
                        status: .unauthorized,
                        headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer"],
                        body: .init(
                            byteBuffer: ByteBuffer(string: "metrics need Authorization: Bearer <metrics token>\n")))
                }
            }
            let text = await metrics.scrape(store: store)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }
}
