import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// A migrated database with a squad, athletes and enrolled devices, and helpers to
/// talk to the real HTTP application through HummingbirdTesting.
struct SyncFixture {
    let database: TestDatabase.Handle
    let pool: ConnectionPool
    /// The application's pool: sessions as squadsync_app, under row-level security.
    let requestPool: ConnectionPool
    /// Device tokens by name ("ana-watch", "ana-phone", "bob-phone").
    let tokens: [String: String]
    let devices: [String: Device]

    static let clockStart: Int64 = 1_780_000_000_000

    static func make() async throws -> SyncFixture {
        let database = try TestDatabase.make()
        let pool = try database.pool(maxConnections: 6)
        let (tokens, devices) = try await pool.withTransaction { connection -> ([String: String], [String: Device]) in
            _ = try SquadStore.create(name: "Club", on: connection)
            for handle in ["ana", "bob"] {
                _ = try AthleteStore.add(NewAthlete(handle: handle, name: handle.capitalized, squad: "Club", timeZone: "Europe/Lisbon"), currentYear: 2026, on: connection)
            }
            var tokens: [String: String] = [:]
            var devices: [String: Device] = [:]
            for (handle, name, type) in [("ana", "ana-watch", "watch"), ("ana", "ana-phone", "phone"), ("bob", "bob-phone", "phone")] {
                let (device, token) = try DeviceStore.enroll(handle: handle, name: name, type: type, key: TestTokenKey.key, on: connection)
                tokens[name] = token
                devices[name] = device
            }
            return (tokens, devices)
        }
        return SyncFixture(database: database, pool: pool, requestPool: try database.requestPool(maxConnections: 6), tokens: tokens, devices: devices)
    }

    func application(now: @escaping @Sendable () -> Date = { Date(timeIntervalSince1970: Double(SyncFixture.clockStart) / 1000 + 60) }) -> some ApplicationProtocol {
        buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), now: now)
    }

    func close() async {
        await requestPool.close()
        await pool.close()
    }

    func count(_ table: String) async throws -> Int {
        try await pool.withConnection { try $0.query("SELECT count(*) FROM \(identifier: table)")[0].decode(Int.self, at: 0) }
    }

    // MARK: - Building requests

    static func hlc(_ offset: Int64, _ node: String) -> String {
        HLC(millis: clockStart + offset, counter: 0, node: node).description
    }

    static func runEntry(distance: Int64 = 8000, rpe: Int64 = 4, notes: String = "easy") -> JSONValue {
        .object([
            "time": .object(["start": .string("2026-06-01T06:00:00.000Z"), "end": .string("2026-06-01T06:45:00.000Z"), "tz": .string("Europe/Lisbon"), "local_date": .string("2026-06-01")]),
            "source": .object(["device_type": .string("watch"), "recording_method": .string("active")]),
            "body": .object(["sport": .string("run"), "session_type": .string("easy"), "distance_m": .int(distance), "rpe": .int(rpe), "notes": .string(notes)]),
        ])
    }

    static func createOp(_ entry: UUID, op: UUID = UUID(), at offset: Int64 = 0, node: String = "dev", body: JSONValue = runEntry()) -> JSONValue {
        .object(["op_id": .string(op.uuidString), "op": .string("create"), "entry_id": .string(entry.uuidString), "kind": .string("run"),
                 "hlc": .string(hlc(offset, node)), "entry": body])
    }

    static func patchOp(_ entry: UUID, op: UUID = UUID(), base: Int64, at offset: Int64, node: String = "dev", set: [String: JSONValue]) -> JSONValue {
        .object(["op_id": .string(op.uuidString), "op": .string("patch"), "entry_id": .string(entry.uuidString), "base_version": .int(base),
                 "hlc": .string(hlc(offset, node)), "set": .object(set)])
    }

    static func deleteOp(_ entry: UUID, op: UUID = UUID(), base: Int64, at offset: Int64, node: String = "dev") -> JSONValue {
        .object(["op_id": .string(op.uuidString), "op": .string("delete"), "entry_id": .string(entry.uuidString), "base_version": .int(base),
                 "hlc": .string(hlc(offset, node))])
    }

    static func pushBody(_ ops: [JSONValue]) -> String {
        JSONValue.object(["protocol": .int(1), "device_clock": .string("2026-06-01T08:01:02.120Z"), "ops": .array(ops)]).canonicalText
    }
}

/// One HTTP answer, with its body parsed when it is JSON.
struct Answer {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: JSONValue? { try? StrictJSON.parse(text) }
    var errorCode: String? { json?["error"]?["code"]?.stringValue }
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, token: String?, body: String? = nil, bytes: [UInt8]? = nil, contentType: String = "application/json") async throws -> Answer {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body { buffer = ByteBuffer(string: body) }
        if let bytes { buffer = ByteBuffer(bytes: bytes) }
        if buffer != nil { headers[.contentType] = contentType }
        let response = try await execute(uri: uri, method: method, headers: headers, body: buffer)
        return Answer(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    func push(_ ops: [JSONValue], token: String) async throws -> Answer {
        try await send(.post, "/v1/sync/push", token: token, body: SyncFixture.pushBody(ops))
    }

    /// Pulls every page from `cursor`, returning the changes and the final cursor.
    func pullAll(token: String, from cursor: String? = nil, limit: Int = 500) async throws -> ([JSONValue], String?) {
        var changes: [JSONValue] = []
        var cursor = cursor
        while true {
            let query = cursor.map { "?cursor=\($0)&limit=\(limit)" } ?? "?limit=\(limit)"
            let answer = try await send(.get, "/v1/sync/pull\(query)", token: token)
            guard answer.status == .ok, let json = answer.json else {
                Issue.record("pull failed: \(answer.status) \(answer.text)")
                return (changes, cursor)
            }
            changes += json["changes"]?.arrayValue ?? []
            cursor = json["next_cursor"]?.stringValue
            if json["has_more"] != .bool(true) { return (changes, cursor) }
        }
    }
}
