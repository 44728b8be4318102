import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The outermost middleware: gives each request an id (the client's `X-Request-Id` when it
/// is a short token, else a new one), puts it in the request's logger metadata and in the
/// response header, logs the answered request and records it in `ServerMetrics`.
///
/// Logged: method, path without its query, status, milliseconds. Never headers or bodies
/// (tokens, athletes' data).
struct RequestObserver<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = Self.acceptable(request.headers[Self.headerName]) ?? Self.newID()
        context.logger[metadataKey: "request_id"] = .string(id)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = APIError.from(error, logger: context.logger).response
        }
        let elapsed = ContinuousClock.now - start
        response.headers[Self.headerName] = id
        let status = response.status.code
        let route = context.endpointPath ?? "unmatched"
        metrics.requestFinished(method: request.method.rawValue, route: route, status: status, duration: elapsed)
        if status == 503 { metrics.databaseUnavailable() }
        let level: Logger.Level = status >= 500 ? .warning : status >= 400 ? .info : .debug
        context.logger.log(level: level, "request", metadata: [
            "method": .string(request.method.rawValue), "path": .string(request.uri.path),
            "status": .stringConvertible(status), "ms": .stringConvertible(Self.milliseconds(elapsed)),
        ])
        return response
    }

    /// A client's id is kept when it is 1-64 characters of letters, digits, `-`, `_` and `.`.
    static func acceptable(_ value: String?) -> String? {
        guard let value, (1...64).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0 == 45 || $0 == 46 || $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
        else { return nil }
        return value
    }

    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return (Double(seconds) * 1000 + Double(attoseconds) / 1e15).rounded(toPlaces: 1)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
