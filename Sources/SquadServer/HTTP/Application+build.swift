import Foundation
import Hummingbird
import Logging
import NIOCore
import Postgres

/// The body of `GET /healthz`.
struct HealthResponse: ResponseEncodable, Sendable {
    var status: String
}

/// Builds the HTTP application; `coach serve` runs it and tests drive it through HummingbirdTesting.
///
/// - Parameters:
///   - metrics: the series `GET /metrics` serves; each daemon has its own.
///   - recentTokens: the device tokens pushes check in memory; tests look inside.
///   - now: the wall clock (HLC clamping); tests inject their own.
///   - onServerRunning: called with the listening channel (its port, when 0 was asked for).
public func buildApplication(
    http: HTTPConfiguration, pool: ConnectionPool, tokenKey: TokenKey, database: DatabaseConfiguration = DatabaseConfiguration(), logger: Logger,
    metrics: ServerMetrics = ServerMetrics(), faults: FaultPoints = .none, rateLimiter: RateLimiter = RateLimiter(rate: 0),
    addressLimiter: RateLimiter = RateLimiter(rate: 0), trustedProxies: TrustedProxies = .loopback, recentTokens: RecentTokens = RecentTokens(),
    now: @escaping @Sendable () -> Date = { Date() }, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router(context: SquadRequestContext.self)
    router.add(middleware: RequestObserver(metrics: metrics))
    router.add(middleware: APIErrorMiddleware())
    router.add(middleware: RateLimitMiddleware(limiter: rateLimiter, addressLimiter: addressLimiter, trusted: trustedProxies))
    let routeTable = RouteTable()
    router.add(middleware: MethodNotAllowedMiddleware(table: routeTable))
    // Process liveness only: it answers while the event loop runs, whatever the database does.
    router.get("healthz") { _, _ in
        HealthResponse(status: "ok")
    }
    // Readiness: the database answers and its schema is current.
    router.get("readyz") { _, _ -> Response in
        if case .unreachable(let failures, let retryIn) = pool.reachability {
            // Answer at once from what the pool already knows; the pool's own probe decides when to try again.
            throw APIError(
                .serviceUnavailable, "database_unavailable", "the database is unreachable (\(failures) failed attempts)",
                retryAfterSeconds: max(1, Int(retryIn.components.seconds) + 1))
        }
        do {
            try await Serve.requireCurrentSchema(pool: pool, configuration: database)
            return .json(#"{"status":"ready"}"#)
        } catch {
            throw APIError(.serviceUnavailable, "not_ready", "\(error)", retryAfterSeconds: 2)
        }
    }
    // Prometheus text format; the proxy keeps it off the internet (Deploy/proxy/Caddyfile).
    router.get("metrics") { _, context -> Response in
        let text = await metrics.render(pool: pool, logger: context.logger)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    SyncRoutes(pool: pool, logger: logger, metrics: metrics, faults: faults, tokenKey: tokenKey, recentTokens: recentTokens, now: now).register(on: router)
    CoachRoutes(pool: pool, logger: logger, tokenKey: tokenKey, now: now).register(on: router)
    routeTable.fill(router.routes.map { (path: $0.path.description, method: $0.method.rawValue) })
    return Application(
        router: router,
        // A connection that sends nothing for this long (a stalled client) is closed.
        server: .http1(configuration: .init(
            additionalChannelHandlers: [RequestDeadlineHandler(deadline: .seconds(Int64(http.requestTimeoutSeconds)), logger: logger)],
            idleTimeout: .seconds(Int64(http.idleTimeoutSeconds)))),
        configuration: .init(address: .hostname(http.host, port: http.port), serverName: "squadsync"),
        onServerRunning: onServerRunning,
        logger: logger)
}
