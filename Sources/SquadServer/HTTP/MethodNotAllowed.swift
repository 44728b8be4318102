import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// The routes' paths and methods, filled once the router is built, so that a known path
/// asked with another method is answered 405 with `Allow` (RFC 9110), not 404.
final class RouteTable: Sendable {
    private let routes = Mutex<[(segments: [Substring], method: String)]>([])

    func fill(_ descriptions: [(path: String, method: String)]) {
        routes.withLock { $0 = descriptions.map { ($0.path.split(separator: "/"), $0.method) } }
    }

    /// The methods of the routes whose pattern (`{name}` or `:name` matches one segment) fits `path`.
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        let all = routes.withLock { $0 }
        var methods: [String] = []
        for route in all where route.segments.count == parts.count {
            if zip(route.segments, parts).allSatisfy({ Self.matches($0.0, $0.1) }) { methods.append(route.method) }
        }
        return methods
    }

    static func matches(_ pattern: Substring, _ segment: Substring) -> Bool {
        if pattern.first == ":" { return true }
        if pattern.first == "{" && pattern.last == "}" { return true }
        return pattern == segment
    }
}

/// Turns the router's 404 for a known path with an unknown method into 405 + `Allow`.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && (context.endpointPath ?? "NotFound") == "NotFound" {
            let allowed = Set(table.methods(for: request.uri.path)).sorted()
            guard !allowed.isEmpty else { throw error }
            var answer = APIError(.methodNotAllowed, "method_not_allowed", "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: ", "))").response
            answer.headers[.allow] = allowed.joined(separator: ", ")
            return answer
        }
    }
}
