import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Postgres
import SquadCore

/// An error answered as `{"error": {"code": ..., "message": ...}}` (SYNC.md "Errors").
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    var response: Response {
        let body: JSONValue = .object(["error": .object(["code": .string(code), "message": .string(message)])])
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.canonicalText)))
    }

    /// The one place errors become statuses: nothing a client sends yields a 500.
    static func from(_ error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as PostgresError:
            // The database failed or is unreachable: nothing was committed, retrying is safe.
            logger.error("database failure", metadata: ["sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.message)"])
            return APIError(.serviceUnavailable, "database_unavailable", "the database is unavailable; retry the same request", retryAfterSeconds: 2)
        case let error as AdminError:
            let status: HTTPResponse.Status = switch error.code {
            case .notFound: .notFound
            case .invalid: .badRequest
            case .conflict: .conflict
            }
            return APIError(status, error.code.rawValue, error.message)
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "payload_too_large", "the body is over \(PushRequest.maximumBytes) bytes")
        case let error as HTTPError:
            let code = error.status == .notFound ? "not_found" : error.status == .methodNotAllowed ? "method_not_allowed" : "http_\(error.status.code)"
            return APIError(error.status, code, error.body ?? error.status.reasonPhrase)
        default:
            logger.error("unexpected error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return APIError(.internalServerError, "internal_error", "an unexpected error occurred")
        }
    }
}

/// Turns every error thrown below it into an `APIError` response.
/// Errors are logged with the request's logger, so they carry its `request_id`.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return APIError.from(error, logger: context.logger).response
        }
    }
}

extension Response {
    /// A 200 response with a JSON body given as text.
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
