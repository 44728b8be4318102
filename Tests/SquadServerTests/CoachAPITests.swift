import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// The coach API: every route answers a coach's own athletes and 404s everyone else's.
@Suite("Coach API and its tenancy")
struct CoachAPITests {
    static let zone = "Europe/Lisbon"
    static let night = Day("2026-11-22")!
    static let now = Date(timeIntervalSince1970: 1_795_428_000)

    struct World {
        let fixture: NightlyFixture
        let maria: String
        let olga: String
        let anaFlag: UUID
        let zedFlag: UUID
        let anaConflict: UUID
        let zedConflict: UUID
    }

    static func world() async throws -> World {
        let fixture = try await NightlyFixture.make(athletes: [("ana", zone)])
        let (maria, olga) = try await fixture.pool.withTransaction { connection -> (String, String) in
            _ = try SquadStore.create(name: "Other", on: connection)
            _ = try AthleteStore.add(NewAthlete(handle: "zed", name: "Zed", squad: "Other", timeZone: zone), currentYear: 2026, on: connection)
            _ = try DeviceStore.enroll(handle: "zed", name: "zed-phone", type: "phone", key: TestTokenKey.key, on: connection)
            return (try CoachStore.add(handle: "maria", name: "Maria", squad: "Club", key: TestTokenKey.key, on: connection).1,
                    try CoachStore.add(handle: "olga", name: nil, squad: "Other", key: TestTokenKey.key, on: connection).1)
        }
        for handle in ["ana", "zed"] {
            try await fixture.log(handle, device: "phone", [NightlyFixture.wellness(night, zone: zone, illness: true)])
            try await fixture.generatePlan(handle, from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)
        }
        _ = try await fixture.nightly(night, now: now)
        let ids = try await fixture.pool.withTransaction { connection -> [String: (UUID, UUID)] in
            var ids: [String: (UUID, UUID)] = [:]
            for handle in ["ana", "zed"] {
                let athlete = try RuleStore.athlete(handle, on: connection)
                let flag = try connection.query("SELECT flag_id FROM flags WHERE athlete_id = \(athlete.id) AND code = 'illness'")[0].decode(UUID.self, at: 0)
                let conflict = UUID()
                try connection.execute("""
                    INSERT INTO sync_conflicts (athlete_id, conflict_id, entry_id, field, loser_op_id, loser_device, other, kept, status, seq)
                    VALUES (\(athlete.id), \(conflict), \(UUID()), 'body.notes', \(UUID()), 'x', '"a"', '"b"', 'open', 100000)
                    """)
                ids[handle] = (flag, conflict)
            }
            return ids
        }
        return World(fixture: fixture, maria: maria, olga: olga, anaFlag: ids["ana"]!.0, zedFlag: ids["zed"]!.0, anaConflict: ids["ana"]!.1, zedConflict: ids["zed"]!.1)
    }

    static func application(_ world: World) -> some ApplicationProtocol {
        buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: world.fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), now: { now })
    }

    @Test("every coach route: own athlete answered, another squad's athlete 404, no token 401, revoked 403")
    func tenancyMatrix() async throws {
        let world = try await Self.world()
        let override = #"{"date": "2026-11-26", "type": "easy", "km": 6, "note": "travel"}"#
        // (method, path for another squad's athlete, path for maria's own athlete, body)
        let routes: [(HTTPRequest.Method, String, String, String?)] = [
            (.get, "/v1/coach/digest?squad=Other", "/v1/coach/digest?squad=Club", nil),
            (.get, "/v1/coach/athletes/zed/digest", "/v1/coach/athletes/ana/digest", nil),
            (.get, "/v1/coach/athletes/zed/digest?week=true&date=2026-11-22", "/v1/coach/athletes/ana/digest?week=true&date=2026-11-22", nil),
            (.get, "/v1/coach/flags?athlete=zed", "/v1/coach/flags?athlete=ana", nil),
            (.post, "/v1/coach/flags/\(world.zedFlag)/ack", "/v1/coach/flags/\(world.anaFlag)/ack", #"{"note": "seen"}"#),
            (.post, "/v1/coach/athletes/zed/plan/override", "/v1/coach/athletes/ana/plan/override", override),
            (.get, "/v1/coach/conflicts?athlete=zed", "/v1/coach/conflicts?athlete=ana", nil),
            (.post, "/v1/coach/conflicts/\(world.zedConflict)/resolve", "/v1/coach/conflicts/\(world.anaConflict)/resolve", #"{"keep": "kept"}"#),
            (.get, "/v1/coach/audit?athlete=zed", "/v1/coach/audit?athlete=ana", nil),
        ]
        try await Self.application(world).test(.router) { client in
            for (method, foreign, own, body) in routes {
                let denied = try await client.send(method, foreign, token: world.maria, body: body)
                #expect(denied.status == .notFound, "\(method) \(foreign): \(denied.status) \(denied.text)")
                #expect(denied.errorCode == "not_found")
                let anonymous = try await client.send(method, own, token: nil, body: body)
                #expect(anonymous.status == .unauthorized, "\(method) \(own) without a token: \(anonymous.status)")
                let allowed = try await client.send(method, own, token: world.maria, body: body)
                #expect(allowed.status == .ok, "\(method) \(own): \(allowed.status) \(allowed.text)")
            }
            // Lists without an athlete show only the coach's own athletes.
            let digest = try await client.send(.get, "/v1/coach/digest", token: world.maria)
            #expect(digest.json?.arrayValue?.compactMap { $0["athlete"]?.stringValue } == ["ana"])
            let flags = try await client.send(.get, "/v1/coach/flags", token: world.olga)
            #expect(Set(flags.json?.arrayValue?.compactMap { $0["athlete"]?.stringValue } ?? []) == ["zed"])
            // What maria did is in her athlete's audit trail, with her name.
            let audit = try await client.send(.get, "/v1/coach/audit?athlete=ana", token: world.maria)
            #expect(Set(audit.json?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []) == ["flag.ack", "plan.override", "conflict.resolve"])
            #expect(audit.json?.arrayValue?.allSatisfy { $0["actor"]?.stringValue == "maria" } == true)
            // The override reached ana's plan, and zed's is untouched.
            let types = try await world.fixture.pool.withConnection { connection in
                try connection.query("""
                    SELECT a.handle, s.coach_locked FROM plan_sessions s JOIN athletes a ON a.id = s.athlete_id WHERE s.session_date = '2026-11-26' ORDER BY 1
                    """).map { try $0.decode((String, Bool).self) }
            }
            #expect(types.map { "\($0.0) \($0.1)" } == ["ana true", "zed false"])

            _ = try await world.fixture.pool.withTransaction { try CoachStore.revoke(handle: "maria", on: $0) }
            let revoked = try await client.send(.get, "/v1/coach/digest", token: world.maria)
            #expect(revoked.status == .forbidden && revoked.errorCode == "coach_revoked")
        }
        await world.fixture.close()
    }

    @Test("device tokens are not coach tokens, and bad input is a 400 with a code")
    func wrongTokensAndInput() async throws {
        let world = try await Self.world()
        let device = try await world.fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana", name: "ana-extra", type: "phone", key: TestTokenKey.key, on: $0).1 }
        try await Self.application(world).test(.router) { client in
            #expect(try await client.send(.get, "/v1/coach/digest", token: device).status == .unauthorized)
            let badType = try await client.send(.post, "/v1/coach/athletes/ana/plan/override", token: world.maria, body: #"{"date": "2026-11-26", "type": "sprint"}"#)
            #expect(badType.status == .badRequest && badType.errorCode == "invalid_type")
            let badJSON = try await client.send(.post, "/v1/coach/flags/\(world.anaFlag)/ack", token: world.maria, body: #"{"note": "a", "note": "b"}"#)
            #expect(badJSON.status == .badRequest)
            let badDate = try await client.send(.get, "/v1/coach/digest?date=yesterday", token: world.maria)
            #expect(badDate.status == .badRequest && badDate.errorCode == "invalid_date")
            // Booleans are true or false, once (found by schemathesis: `open=null` read as false).
            for query in ["/v1/coach/flags?open=null", "/v1/coach/flags?open=true&open=false", "/v1/coach/conflicts?all=1",
                          "/v1/coach/athletes/ana/digest?week=yes"] {
                let bad = try await client.send(.get, query, token: world.maria)
                #expect(bad.status == .badRequest && bad.errorCode == "invalid_query", "\(query): \(bad.status)")
            }
            #expect(try await client.send(.get, "/v1/coach/flags?open=false", token: world.maria).status == .ok)
            let noteNotText = try await client.send(.post, "/v1/coach/flags/\(world.anaFlag)/ack", token: world.maria, body: #"{"note": 5}"#)
            #expect(noteNotText.status == .badRequest && noteNotText.errorCode == "invalid_field")
            let badKm = try await client.send(.post, "/v1/coach/athletes/ana/plan/override", token: world.maria, body: #"{"date": "2026-11-26", "type": "easy", "km": "ten"}"#)
            #expect(badKm.status == .badRequest && badKm.errorCode == "invalid_field")
            // The body of an acknowledgement is optional (its note is).
            let bare = try await client.send(.post, "/v1/coach/flags/\(world.anaFlag)/ack", token: world.maria, body: "")
            #expect(bare.status == .ok, "an ack without a body: \(bare.status)")
        }
        await world.fixture.close()
    }
}
