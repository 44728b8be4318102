import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Postgres
import SquadCore

/// `/v1/coach/...`: what the coach CLI does, over HTTP with a coach token. A coach sees and
/// changes only the athletes of its own squads; anything else is 404 (never 403, so the
/// API does not tell which athletes exist).
struct CoachRoutes: Sendable {
    let pool: ConnectionPool
    let logger: Logger
    let tokenKey: TokenKey
    let now: @Sendable () -> Date

    func register(on router: Router<SquadRequestContext>) {
        router.get("v1/coach/digest") { request, _ in try await squadDigest(request) }
        router.get("v1/coach/athletes/:handle/digest") { request, context in try await athleteDigest(request, context: context) }
        router.get("v1/coach/flags") { request, _ in try await flags(request) }
        router.post("v1/coach/flags/:id/ack") { request, context in try await ack(request, context: context) }
        router.post("v1/coach/athletes/:handle/plan/override") { request, context in try await override(request, context: context) }
        router.get("v1/coach/conflicts") { request, _ in try await conflicts(request) }
        router.post("v1/coach/conflicts/:id/resolve") { request, context in try await resolve(request, context: context) }
        router.get("v1/coach/audit") { request, _ in try await audit(request) }
    }

    func authenticate(_ request: Request) async throws -> CoachStore.AuthenticatedCoach {
        let token: String
        switch BearerToken.parse(request.headers[.authorization]) {
        case .success(let value): token = value
        case .failure(.missing): throw APIError(.unauthorized, "missing_token", "send Authorization: Bearer <coach token>")
        case .failure(.invalid): throw APIError(.unauthorized, "invalid_token", "the coach token is not valid")
        }
        switch try await pool.withConnection({ try CoachStore.authenticate(token: token, key: tokenKey, on: $0) }) {
        case .valid(let coach): return coach
        case .revoked: throw APIError(.forbidden, "coach_revoked", "this coach token was revoked")
        case .unknown: throw APIError(.unauthorized, "invalid_token", "the coach token is not valid")
        }
    }

    static let notFound = APIError(.notFound, "not_found", "no such athlete, flag or conflict in your squads")

    static func encode<Value: Encodable>(_ value: Value) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return .json(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func day(_ request: Request) throws -> Day? {
        guard let text = request.uri.queryParameters.get("date") else { return nil }
        guard let day = Day(text) else { throw APIError(.badRequest, "invalid_date", "date must be YYYY-MM-DD") }
        return day
    }

    /// A boolean query parameter: absent is false; otherwise exactly one `true` or `false`.
    func flag(_ request: Request, _ name: String) throws -> Bool {
        let values = request.uri.queryParameters.getAll(name)
        switch (values.count, values.first.map { String($0) }) {
        case (0, _): return false
        case (1, "true"?): return true
        case (1, "false"?): return false
        default: throw APIError(.badRequest, "invalid_query", "\(name) must be given once, as true or false")
        }
    }

    /// Handles of every athlete the coach may see.
    func visibleHandles(_ coach: CoachStore.AuthenticatedCoach, on connection: Connection) throws -> Set<String> {
        Set(try connection.query("""
            SELECT DISTINCT a.handle FROM athletes a JOIN athlete_squads m ON m.athlete_id = a.id WHERE m.squad_id = ANY(\(coach.squadIDs))
            """).map { try $0.decode(String.self, at: 0) })
    }

    /// The request's JSON object; with `optional`, an empty body reads as `{}`.
    func body(_ request: Request, optional: Bool = false) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        if optional && buffer.readableBytes == 0 { return .object([:]) }
        let json: JSONValue
        do { json = try StrictJSON.parse(Array(buffer.readableBytesView)) } catch {
            throw APIError(.badRequest, "invalid_json", "\(error)")
        }
        guard case .object = json else { throw APIError(.badRequest, "invalid_json", "the body must be a JSON object") }
        return json
    }

    /// An optional string member of a request body: absent or null is nil, any other type is 400.
    func optionalString(_ json: JSONValue, _ key: String) throws -> String? {
        guard let value = json[key], value != .null else { return nil }
        guard let text = value.stringValue else { throw APIError(.badRequest, "invalid_field", "\(key) must be a string") }
        return text
    }

    func squadDigest(_ request: Request) async throws -> Response {
        let coach = try await authenticate(request)
        let date = try day(request)
        let squad = request.uri.queryParameters.get("squad")
        let digests = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> [Digest] in
            if let squad {
                guard let id = try? SquadStore.id(named: squad, on: connection), coach.squadIDs.contains(id) else { throw Self.notFound }
            }
            let visible = try visibleHandles(coach, on: connection)
            return try DigestStore.squad(squad, date: date, on: connection).filter { visible.contains($0.athlete) }
        }
        return try Self.encode(digests.rankedForAttention())
    }

    func athleteDigest(_ request: Request, context: SquadRequestContext) async throws -> Response {
        let coach = try await authenticate(request)
        let handle = try context.parameters.require("handle")
        let date = try day(request)
        let week = try flag(request, "week")
        let digest = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> Digest? in
            guard try CoachStore.visibleAthlete(handle, to: coach, on: connection) != nil else { throw Self.notFound }
            if week { return Digest.week(try DigestStore.week(handle: handle, date: date ?? Day(ordinal: Int(now().timeIntervalSince1970 / 86_400)), on: connection)) }
            return try DigestStore.night(handle: handle, date: date, on: connection)
        }
        guard let digest else { throw APIError(.notFound, "no_digest", "no digest yet for \(handle); the nightly run writes them") }
        return try Self.encode(digest)
    }

    /// A list for a coach: naming an athlete of another squad is 404; otherwise only the
    /// items of athletes the coach may see are returned.
    func visibleList<Item: Encodable & Sendable>(
        _ request: Request, _ fetch: @escaping @Sendable (_ athlete: String?, Connection) throws -> [Item], athleteOf: @escaping @Sendable (Item) -> String?
    ) async throws -> Response {
        let coach = try await authenticate(request)
        let athlete = request.uri.queryParameters.get("athlete")
        let items = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> [Item] in
            if let athlete, try CoachStore.visibleAthlete(athlete, to: coach, on: connection) == nil { throw Self.notFound }
            let visible = try visibleHandles(coach, on: connection)
            return try fetch(athlete, connection).filter { athleteOf($0).map(visible.contains) ?? false }
        }
        return try Self.encode(items)
    }

    func flags(_ request: Request) async throws -> Response {
        let open = try flag(request, "open")
        return try await visibleList(request, { try FlagStore.list(handle: $0, onlyOpen: open, on: $1) }, athleteOf: \.athlete)
    }

    func ack(_ request: Request, context: SquadRequestContext) async throws -> Response {
        let coach = try await authenticate(request)
        guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw Self.notFound }
        let note = try optionalString(try await body(request, optional: true), "note")
        let flag = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> FlagStore.Flag in
            guard let row = try connection.query("SELECT athlete_id FROM flags WHERE flag_id = \(id)").first,
                  try CoachStore.sees(athleteID: try row.decode(Int64.self, at: 0), coach: coach, on: connection) else { throw Self.notFound }
            return try FlagStore.acknowledge(id, by: coach.handle, note: note, on: connection)
        }
        return try Self.encode(flag)
    }

    func override(_ request: Request, context: SquadRequestContext) async throws -> Response {
        let coach = try await authenticate(request)
        let handle = try context.parameters.require("handle")
        let json = try await body(request)
        guard let date = json["date"]?.stringValue.flatMap(Day.init) else { throw APIError(.badRequest, "invalid_date", "date must be YYYY-MM-DD") }
        guard let type = json["type"]?.stringValue.flatMap(SessionType.init(rawValue:)) else {
            throw APIError(.badRequest, "invalid_type", "type must be one of \(SessionType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let km: Double?
        switch json["km"] {
        case nil, .null?: km = nil
        case let value?:
            guard let number = value.numberValue else {
                throw APIError(.badRequest, "invalid_field", "km must be a number (kilometres, 0 to 300)")
            }
            km = number
        }
        let note = try optionalString(json, "note")
        let nowDate = now()
        let change = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> PlanChange in
            guard try CoachStore.visibleAthlete(handle, to: coach, on: connection) != nil else { throw Self.notFound }
            return try PlanService.override(handle: handle, date: date, type: type, kilometres: km, note: note, coach: coach.handle, now: nowDate, on: connection)
        }
        return .json(change.json.canonicalText)
    }

    func conflicts(_ request: Request) async throws -> Response {
        let all = try flag(request, "all")
        return try await visibleList(request, { try ConflictService.list(handle: $0, includeClosed: all, on: $1) }, athleteOf: \.athlete)
    }

    func resolve(_ request: Request, context: SquadRequestContext) async throws -> Response {
        let coach = try await authenticate(request)
        guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw Self.notFound }
        guard let keep = try await body(request)["keep"]?.stringValue, keep == "kept" || keep == "other" else {
            throw APIError(.badRequest, "invalid_keep", "keep must be kept or other")
        }
        let nowMillis = Int64(now().timeIntervalSince1970 * 1000)
        let conflict = try await pool.withTransaction(scope: .coach(coach.id)) { connection -> ConflictService.Conflict in
            guard let row = try connection.query("SELECT athlete_id FROM sync_conflicts WHERE conflict_id = \(id)").first,
                  try CoachStore.sees(athleteID: try row.decode(Int64.self, at: 0), coach: coach, on: connection) else { throw Self.notFound }
            return try ConflictService.resolve(id, keep: keep, coach: coach.handle, nowMillis: nowMillis, on: connection)
        }
        return try Self.encode(conflict)
    }

    func audit(_ request: Request) async throws -> Response {
        try await visibleList(request, { try AuditStore.list(handle: $0, on: $1) }, athleteOf: \.athlete)
    }
}
