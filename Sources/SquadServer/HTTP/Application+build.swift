import Foundation
import Hummingbird
import Logging
import Postgres

/// The body of `GET /healthz`.
struct HealthResponse: ResponseEncodable, Sendable {
    var status: String
}

/// Builds the HTTP application; `coach serve` runs it and tests drive it through HummingbirdTesting.
///
/// - Parameter now: the wall clock (HLC clamping); tests inject their own.
public func buildApplication(
    http: HTTPConfiguration, pool: ConnectionPool, database: DatabaseConfiguration = DatabaseConfiguration(), logger: Logger,
    now: @escaping @Sendable () -> Date = { Date() }
) -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: APIErrorMiddleware(logger: logger))
    // Process liveness only: it answers while the event loop runs, whatever the database does.
    router.get("healthz") { _, _ in
        HealthResponse(status: "ok")
    }
    // Readiness: the database answers and its schema is current.
    router.get("readyz") { _, _ -> Response in
        do {
            try await Serve.requireCurrentSchema(pool: pool, configuration: database)
            return .json(#"{"status":"ready"}"#)
        } catch {
            throw APIError(.serviceUnavailable, "not_ready", "\(error)", retryAfterSeconds: 2)
        }
    }
    SyncRoutes(pool: pool, logger: logger, now: now).register(on: router)
    CoachRoutes(pool: pool, logger: logger, now: now).register(on: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(http.host, port: http.port), serverName: "squadsync"),
        logger: logger)
}
