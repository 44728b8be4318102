import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Postgres
import SquadCore

/// `POST /v1/sync/push`, `GET /v1/sync/pull`, `GET /v1/entries/{entry_id}`: device-token routes.
struct SyncRoutes: Sendable {
    let pool: ConnectionPool
    let logger: Logger
    let metrics: ServerMetrics
    let faults: FaultPoints
    let tokenKey: TokenKey
    /// Tokens that pushed lately: their pushes skip the authentication round trip.
    let recentTokens: RecentTokens
    /// Wall clock for HLC clamping, injected so tests can move time.
    let now: @Sendable () -> Date

    func register(on router: Router<SquadRequestContext>) {
        router.post("v1/sync/push") { request, context in try await push(request) }
        router.get("v1/sync/pull") { request, _ in try await pull(request) }
        router.get("v1/entries/:entry_id") { request, context in try await entry(request, context: context) }
    }

    /// Resolves the bearer token: 401 when missing or unknown, 403 when revoked.
    func authenticate(_ request: Request) async throws -> AuthenticatedDevice {
        let token = try bearerToken(request)
        return try Self.device(for: await pool.withConnection { try DeviceStore.authenticate(token: token, key: tokenKey, on: $0) })
    }

    func bearerToken(_ request: Request) throws -> String {
        switch BearerToken.parse(request.headers[.authorization]) {
        case .success(let value): return value
        case .failure(.missing): throw APIError(.unauthorized, "missing_token", "send Authorization: Bearer <device token>")
        case .failure(.invalid): throw APIError(.unauthorized, "invalid_token", "the device token is not valid")
        }
    }

    static func device(for outcome: DeviceStore.Authentication) throws -> AuthenticatedDevice {
        switch outcome {
        case .valid(let device): return device
        case .revoked: throw APIError(.forbidden, "device_revoked", "this device was revoked; enroll it again")
        case .unknown: throw APIError(.unauthorized, "invalid_token", "the device token is not valid")
        }
    }

    /// `device(for:)`, and 410 when the athlete was erased: such a device may pull, not push.
    static func pushingDevice(for outcome: DeviceStore.Authentication) throws -> AuthenticatedDevice {
        let device = try device(for: outcome)
        if device.athleteErased {
            throw APIError(.gone, "athlete_erased", "this athlete's data was erased; pull to remove it from the device")
        }
        return device
    }

    /// `authenticate` for a push. A token in `recentTokens` is checked in memory and comes
    /// with a confirmation for the push's first round trip; any other is checked against
    /// the database (and remembered when valid), before the body is read.
    func authenticatePush(_ request: Request) async throws -> (AuthenticatedDevice, DeviceConfirmation?) {
        let token = try bearerToken(request)
        guard let parts = DeviceToken.parse(token) else {
            return (try Self.pushingDevice(for: await pool.withConnection { try DeviceStore.authenticate(token: token, key: tokenKey, on: $0) }), nil)
        }
        if let record = recentTokens.record(lookup: parts.lookup), case .valid(let device) = record.authenticate(parts.secret, key: tokenKey), !device.athleteErased {
            return (device, DeviceConfirmation(parts: parts, device: device, key: tokenKey, tokens: recentTokens))
        }
        let record = try await pool.withConnection { try DeviceStore.decodeRecord($0.query(DeviceStore.recordStatement(lookup: parts.lookup))) }
        let outcome = record?.authenticate(parts.secret, key: tokenKey) ?? .unknown
        if let record, case .valid = outcome { recentTokens.remember(record, lookup: parts.lookup) } else { recentTokens.forget(lookup: parts.lookup) }
        return (try Self.pushingDevice(for: outcome), nil)
    }

    func push(_ request: Request) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > PushRequest.maximumBytes {
            throw APIError(.contentTooLarge, "payload_too_large", "the body is over \(PushRequest.maximumBytes) bytes")
        }
        let (device, confirmation) = try await authenticatePush(request)
        let push: PushRequest
        do {
            if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
                throw APIError(.unsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
            }
            let buffer = try await request.body.collect(upTo: PushRequest.maximumBytes)
            do {
                push = try PushRequest.parse(Array(buffer.readableBytesView))
            } catch {
                throw APIError(error.code == "too_many_ops" ? .contentTooLarge : .badRequest, error.code, error.message)
            }
        } catch let error where confirmation != nil {
            // Refused before the transaction could confirm the device: what the database
            // says of the token (403, 401, 410) comes first, as it would have without memory.
            if let outcome = try await confirmation?.refusal(pool: pool) { _ = try Self.pushingDevice(for: outcome) }
            throw error
        }
        let nowMillis = Int64((now().timeIntervalSince1970 * 1000).rounded(.down))
        let body: JSONValue
        let faults = self.faults
        faults.maybeCrash(at: .pushBeforeTransaction)
        do {
            do {
                body = try await pool.withTransaction(scope: .athlete(device.athleteID)) {
                    let body = try PushService.apply(push, device: device, nowMillis: nowMillis, confirming: confirmation, on: $0)
                    faults.maybeCrash(at: .pushInTransaction)
                    return body
                }
            } catch let error as PostgresError where error.isDataError {
                logger.warning("a push hit a data error; retrying it op by op", metadata: ["sqlstate": "\(error.sqlState ?? "-")"])
                body = try await pool.withTransaction(scope: .athlete(device.athleteID)) {
                    try PushService.apply(push, device: device, nowMillis: nowMillis, isolatingOps: true, confirming: confirmation, on: $0)
                }
            }
        } catch let refused as DeviceConfirmation.Refused {
            _ = try Self.pushingDevice(for: refused.outcome)
            // The same token now names another device: refused like an unknown one.
            throw APIError(.unauthorized, "invalid_token", "the device token is not valid")
        }
        faults.maybeCrash(at: .pushAfterCommit)
        var counts: [String: Int] = [:]
        for result in body["results"]?.arrayValue ?? [] {
            if case .string(let status)? = result["status"] { counts[status, default: 0] += 1 }
        }
        metrics.pushOps(counts)
        return .json(body.canonicalText)
    }

    func pull(_ request: Request) async throws -> Response {
        let device = try await authenticate(request)
        let query = request.uri.queryParameters
        var limit = PullService.defaultLimit
        if let text = query.get("limit") {
            guard let value = Int(text), value >= 1, value <= PullService.maximumLimit else {
                throw APIError(.badRequest, "invalid_limit", "limit must be 1 to \(PullService.maximumLimit)")
            }
            limit = value
        }
        let cursor = query.get("cursor")
        let pageSize = limit
        do {
            let body = try await pool.withTransaction(scope: .athlete(device.athleteID)) { connection in
                let body = try PullService.pull(athleteID: device.athleteID, cursor: cursor, limit: pageSize, on: connection)
                try DeviceStore.touch(device.id, synced: false, on: connection)
                return body
            }
            return .json(body)
        } catch PullService.CursorError.invalid {
            throw APIError(.badRequest, "invalid_cursor", "the cursor is not one this server gave this athlete")
        } catch PullService.CursorError.expired {
            throw APIError(.gone, "cursor_expired", "the cursor is too old: push pending ops, then pull from the start")
        }
    }

    func entry(_ request: Request, context: SquadRequestContext) async throws -> Response {
        let device = try await authenticate(request)
        guard let id = context.parameters.get("entry_id").flatMap(UUID.init(uuidString:)) else {
            throw APIError(.notFound, "not_found", "no such entry")
        }
        let body = try await pool.withTransaction(scope: .athlete(device.athleteID)) { try PullService.entry(id, athleteID: device.athleteID, on: $0) }
        guard let body else { throw APIError(.notFound, "not_found", "no such entry") }
        return .json(body)
    }
}
