import Hummingbird
import Logging
import Postgres

/// The body of `GET /healthz`.
struct HealthResponse: ResponseEncodable, Sendable {
    var status: String
}

/// Builds the HTTP application; `coach serve` runs it and tests drive it through HummingbirdTesting.
public func buildApplication(http: HTTPConfiguration, pool: ConnectionPool, logger: Logger) -> some ApplicationProtocol {
    let router = Router()
    // Process liveness only: it answers while the event loop runs, whatever the database does.
    router.get("healthz") { _, _ in
        HealthResponse(status: "ok")
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(http.host, port: http.port), serverName: "squadsync"),
        logger: logger)
}
