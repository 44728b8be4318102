import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Duplicate activities end to end")
struct DuplicateTests {
    static func activity(start: String, end: String, km: Int64, device: String, method: String = "active", externalIDs: [JSONValue] = []) -> JSONValue {
        .object([
            "time": .object(["start": .string(start), "end": .string(end), "tz": .string("Europe/Lisbon")]),
            "source": .object(["device_type": .string(device), "recording_method": .string(method), "external_ids": .array(externalIDs)]),
            "body": .object(["sport": .string("run"), "session_type": .string("easy"), "distance_m": .int(km)]),
        ])
    }

    func counted(_ fixture: SyncFixture) async throws -> Int {
        try await fixture.pool.withConnection { try $0.query("SELECT count(*) FROM counted_entries")[0].decode(Int.self, at: 0) }
    }

    @Test("the same run from watch and phone is linked, counted once, and can be unlinked for good")
    func linkCountUnlink() async throws {
        let fixture = try await SyncFixture.make()
        let (watchRun, phoneRun) = (UUID(), UUID())
        try await fixture.application().test(.router) { client in
            _ = try await client.push([SyncFixture.createOp(watchRun, at: 0, body: Self.activity(
                start: "2026-06-01T06:00:00.000Z", end: "2026-06-01T06:50:00.000Z", km: 10_000, device: "watch"))], token: fixture.tokens["ana-watch"]!)
            _ = try await client.push([SyncFixture.createOp(phoneRun, at: 5, body: Self.activity(
                start: "2026-06-01T06:01:30.000Z", end: "2026-06-01T06:50:30.000Z", km: 10_300, device: "phone"))], token: fixture.tokens["ana-phone"]!)
            let (changes, _) = try await client.pullAll(token: fixture.tokens["ana-phone"]!)
            let link = try #require(changes.last { $0["type"] == .string("link") })
            #expect(link["primary_entry_id"] == .string(watchRun.uuidString.lowercased()))
            #expect(Set(link["members"]?.arrayValue?.compactMap(\.stringValue) ?? []) == [watchRun.uuidString.lowercased(), phoneRun.uuidString.lowercased()])
        }
        #expect(try await counted(fixture) == 1)
        #expect(try await fixture.count("entries") == 2, "both recordings stay stored")

        let groups = try await fixture.pool.withConnection { try DuplicateStore.list(handle: "ana", on: $0) }
        #expect(groups.count == 1)
        _ = try await fixture.pool.withTransaction { try DuplicateStore.unlink(groups[0].groupID, on: $0) }
        #expect(try await counted(fixture) == 2)
        #expect(try await fixture.pool.withConnection { try DuplicateStore.list(handle: "ana", on: $0) }.isEmpty)

        // Editing one of them later does not link the pair again.
        try await fixture.application().test(.router) { client in
            let edit = try await client.push([SyncFixture.patchOp(phoneRun, base: 1, at: 20, set: ["body.rpe": .int(5)])], token: fixture.tokens["ana-phone"]!)
            #expect(edit.json?["results"]?.arrayValue?.first?["status"] == .string("applied"))
            let (changes, _) = try await client.pullAll(token: fixture.tokens["ana-phone"]!)
            #expect(changes.last { $0["type"] == .string("link") }?["status"] == .string("dissolved"))
        }
        #expect(try await counted(fixture) == 2)
        await fixture.close()
    }

    @Test("the group's primary does not depend on which recording was stored first")
    func primaryIndependentOfOrder() async throws {
        // Two watches, both active: the one with more data wins. Heart rate is one member of
        // body with three fields, so counting leaves for the new recording and members for
        // the stored one (as the primary rule once did) picked whichever came second.
        let (detailed, plain) = (UUID(), UUID())
        func recording(_ extra: [String: JSONValue], start: String) -> JSONValue {
            var body: [String: JSONValue] = ["sport": .string("run"), "session_type": .string("easy"), "distance_m": .int(10_000)]
            for (key, value) in extra { body[key] = value }
            return .object([
                "time": .object(["start": .string(start), "end": .string("2026-06-01T06:50:00.000Z"), "tz": .string("Europe/Lisbon")]),
                "source": .object(["device_type": .string("watch"), "recording_method": .string("active")]),
                "body": .object(body),
            ])
        }
        let first = recording(["hr": .object(["avg_bpm": .int(150), "max_bpm": .int(170), "min_bpm": .int(90)])], start: "2026-06-01T06:00:00.000Z")
        let second = recording(["rpe": .int(4), "notes": .string("easy")], start: "2026-06-01T06:00:30.000Z")
        var primaries: [JSONValue?] = []
        for order in [[(detailed, first), (plain, second)], [(plain, second), (detailed, first)]] {
            let fixture = try await SyncFixture.make()
            let primary = try await fixture.application().test(.router) { client in
                for (offset, (id, body)) in order.enumerated() {
                    let pushed = try await client.push([SyncFixture.createOp(id, at: Int64(offset), body: body)], token: fixture.tokens[offset == 0 ? "ana-watch" : "ana-phone"]!)
                    #expect(pushed.json?["results"]?.arrayValue?.first?["status"] == .string("applied"))
                }
                let (changes, _) = try await client.pullAll(token: fixture.tokens["ana-phone"]!)
                return changes.last { $0["type"] == .string("link") }?["primary_entry_id"]
            }
            primaries.append(primary)
            await fixture.close()
        }
        #expect(primaries.count == 2)
        #expect(primaries[0] != nil)
        #expect(primaries[0] == primaries[1])
        #expect(primaries[0] == .string(plain.lowercasedText), "five members of body against four")
    }

    @Test("an exact external id links at once; a near miss becomes a possible_duplicate for a person")
    func externalIDsAndPossibles() async throws {
        let fixture = try await SyncFixture.make()
        let strava: JSONValue = .object(["system": .string("strava"), "id": .int(1_979_758_638)])
        try await fixture.application().test(.router) { client in
            let token = fixture.tokens["ana-watch"]!
            _ = try await client.push([
                SyncFixture.createOp(UUID(), at: 0, body: Self.activity(start: "2026-06-02T06:00:00.000Z", end: "2026-06-02T06:40:00.000Z", km: 8000, device: "watch", externalIDs: [strava])),
                // Imported with a wrong time zone: two hours off, but the Strava id is the same.
                SyncFixture.createOp(UUID(), at: 1, body: Self.activity(start: "2026-06-02T08:00:00.000Z", end: "2026-06-02T08:40:00.000Z", km: 8000, device: "phone", method: "manual", externalIDs: [strava])),
                SyncFixture.createOp(UUID(), at: 2, body: Self.activity(start: "2026-06-03T06:00:00.000Z", end: "2026-06-03T06:40:00.000Z", km: 8000, device: "watch")),
                SyncFixture.createOp(UUID(), at: 3, body: Self.activity(start: "2026-06-03T06:08:00.000Z", end: "2026-06-03T06:38:00.000Z", km: 6000, device: "phone")),
            ], token: token)
            let (changes, _) = try await client.pullAll(token: token)
            let links = changes.filter { $0["type"] == .string("link") }
            #expect(links.count == 1)
            #expect(links.first?["reason"] == .string("external_id"))
            let possible = changes.filter { $0["type"] == .string("conflict") && $0["field"] == .string("possible_duplicate") }
            #expect(possible.count == 1)
        }
        #expect(try await counted(fixture) == 3)
        await fixture.close()
    }

    @Test("deleting the primary dissolves a pair; the other recording counts again")
    func deletePrimary() async throws {
        let fixture = try await SyncFixture.make()
        let (watchRun, phoneRun) = (UUID(), UUID())
        try await fixture.application().test(.router) { client in
            let token = fixture.tokens["ana-watch"]!
            _ = try await client.push([
                SyncFixture.createOp(watchRun, at: 0, body: Self.activity(start: "2026-06-01T06:00:00.000Z", end: "2026-06-01T06:50:00.000Z", km: 10_000, device: "watch")),
                SyncFixture.createOp(phoneRun, at: 1, body: Self.activity(start: "2026-06-01T06:00:10.000Z", end: "2026-06-01T06:50:00.000Z", km: 10_000, device: "phone")),
            ], token: token)
            #expect(try await counted(fixture) == 1)
            _ = try await client.push([SyncFixture.deleteOp(watchRun, base: 1, at: 10)], token: token)
        }
        let remaining = try await fixture.pool.withConnection { try $0.query("SELECT entry_id FROM counted_entries")[0].decode(UUID.self, at: 0) }
        #expect(remaining == phoneRun)
        await fixture.close()
    }

    @Test("an edit that makes a stored run a duplicate links it, also when the same push creates an activity elsewhere (the searches read ahead for the creates do not cover it)")
    func editLinksBeyondTheCreates() async throws {
        let fixture = try await SyncFixture.make()
        let (watchRun, phoneRun, evening) = (UUID(), UUID(), UUID())
        try await fixture.application().test(.router) { client in
            let token = fixture.tokens["ana-watch"]!
            // Distances 40 % apart: only a possible duplicate, not linked.
            _ = try await client.push([
                SyncFixture.createOp(watchRun, at: 0, body: Self.activity(start: "2026-06-01T06:00:00.000Z", end: "2026-06-01T06:50:00.000Z", km: 10_000, device: "watch")),
                SyncFixture.createOp(phoneRun, at: 1, body: Self.activity(start: "2026-06-01T06:00:20.000Z", end: "2026-06-01T06:50:00.000Z", km: 14_000, device: "phone")),
            ], token: token)
            #expect(try await counted(fixture) == 2)
            // The phone's distance corrected, in a push that also records an evening run.
            let edit = try await client.push([
                SyncFixture.createOp(evening, at: 2, body: Self.activity(start: "2026-06-01T18:00:00.000Z", end: "2026-06-01T18:30:00.000Z", km: 5000, device: "watch")),
                SyncFixture.patchOp(phoneRun, base: 1, at: 3, set: ["body.distance_m": .int(10_100)]),
            ], token: token)
            #expect(edit.json?["results"]?.arrayValue?.map { $0["status"] } == [.string("applied"), .string("applied")])
            let (changes, _) = try await client.pullAll(token: token)
            let link = try #require(changes.last { $0["type"] == .string("link") })
            #expect(Set(link["members"]?.arrayValue?.compactMap(\.stringValue) ?? []) == [watchRun.uuidString.lowercased(), phoneRun.uuidString.lowercased()])
        }
        #expect(try await counted(fixture) == 2, "the pair once, the evening run once")
        await fixture.close()
    }
}
