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

/// `coach athletes export | import | erase`.
@Suite("Athletes' data rights")
struct DataRightsTests {
    @Test("export holds every row of the athlete and re-imports; erasure leaves id-only tombstones that devices pull, and refuses their pushes")
    func exportEraseImport() async throws {
        let zone = "Europe/Lisbon"
        let night = Day("2026-11-22")!
        let fixture = try await NightlyFixture.make(athletes: [("ana", zone), ("bob", zone)])
        try await fixture.generatePlan("ana", from: Day("2026-11-16")!, race: Day("2027-03-21")!)
        try await fixture.logSteady("ana", zone: zone, until: night.adding(days: -1), weeks: 3)
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(night, zone: zone, illness: true)])
        try await fixture.log("bob", device: "phone", [NightlyFixture.wellness(night, zone: zone)])
        _ = try await fixture.nightly(night, now: Date(timeIntervalSince1970: 1_795_428_000))
        let token = try await fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana", name: "spare", type: "phone", key: TestTokenKey.key, on: $0).1 }
        func count(_ table: String, _ handle: String) async throws -> Int {
            try await fixture.count("SELECT count(*) FROM \(identifier: table) t JOIN athletes a ON a.id = t.athlete_id WHERE a.handle = \(handle)")
        }
        let before = (entries: try await count("entries", "ana"), flags: try await count("flags", "ana"),
                      plans: try await count("plans", "ana"), digests: try await count("digests", "ana"))
        #expect(before.entries > 10 && before.flags > 0 && before.plans == 1 && before.digests > 0, "\(before)")
        let docsBefore = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT entry_id::text, doc::text FROM entries e JOIN athletes a ON a.id = e.athlete_id WHERE a.handle = 'ana' ORDER BY 1")
                .map { [try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1)] }
        }

        // Export.
        let text = try await fixture.pool.withTransaction { try AthleteDataRights.export(handle: "ana", actor: "maria", on: $0) }
        let export = try StrictJSON.parse(text)
        #expect(export["format"]?.stringValue == "squadsync.athlete-export")
        #expect(export["tables"]?["entries"]?.arrayValue?.count == before.entries)
        #expect(export["tables"]?["flags"]?.arrayValue?.count == before.flags)
        #expect(export["tables"]?["digests"]?.arrayValue?.count == before.digests)
        #expect((export["tables"]?["plan_weeks"]?.arrayValue?.count ?? 0) > 10)
        #expect(export["devices"]?.arrayValue?.isEmpty == false && !text.contains("token_hash"), "devices without their token hashes")
        #expect(!text.contains("\"bob\""), "nothing of another athlete")

        // Erase.
        let erased = try await fixture.pool.withConnection { try AthleteDataRights.erase(handle: "ana", actor: "maria", on: $0) }
        #expect(erased.tombstones == before.entries)
        let pseudonym = erased.pseudonym
        for table in ["flags", "plans", "digests", "daily_metrics", "plan_sessions"] {
            #expect(try await count(table, pseudonym) == 0, "\(table) emptied")
        }
        let leftovers = try await fixture.count("""
            SELECT count(*) FROM entries e JOIN athletes a ON a.id = e.athlete_id
            WHERE a.handle = \(pseudonym) AND (NOT e.deleted OR e.doc ? 'body' OR e.doc ? 'time' OR e.doc ? 'source')
            """)
        #expect(leftovers == 0, "only id-only tombstones remain")
        let athleteRow = try await fixture.pool.withConnection { try $0.query("SELECT name, hr_max IS NULL FROM athletes WHERE handle = \(pseudonym)")[0].decode((String, Bool).self) }
        #expect(athleteRow.0 == "Erased athlete" && athleteRow.1)
        let auditMentions = try await fixture.count("SELECT count(*) FROM audit_log WHERE subject LIKE '%ana%' OR coalesce(note, '') LIKE '%ana%'")
        #expect(auditMentions == 0, "the audit trail no longer names her")
        let erasures = try await fixture.count("SELECT count(*) FROM audit_log WHERE action IN ('athlete.export', 'athlete.erase') AND actor = 'maria'")
        #expect(erasures == 2)
        #expect(try await count("entries", "bob") > 0, "another athlete is untouched")

        // Her devices pull the tombstones; their pushes are refused; the nightly job skips her.
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let (changes, _) = try await client.pullAll(token: token)
            let tombstones = changes.filter { $0["type"]?.stringValue == "entry" && $0["deleted"] == .bool(true) }
            #expect(tombstones.count == before.entries)
            #expect(changes.allSatisfy { $0["entry"]?["body"] == nil })
            let push = try await client.push([SyncFixture.createOp(UUID())], token: token)
            #expect(push.status == .gone && push.errorCode == "athlete_erased")
        }
        let report = try await fixture.nightly(night.adding(days: 1), now: Date(timeIntervalSince1970: 1_795_514_400))
        #expect(!report.athletes.contains { $0.handle == pseudonym })

        // Import the export as a new athlete: the same entries, plan, flags and digests.
        let imported = try await fixture.pool.withConnection { try AthleteDataRights.importAthlete(text, handle: "ana2", squad: nil, actor: "maria", on: $0) }
        #expect(imported.rows["entries"] == before.entries && imported.rows["flags"] == before.flags)
        let plans2 = try await count("plans", "ana2")
        let digests2 = try await count("digests", "ana2")
        #expect(plans2 == 1 && digests2 == before.digests)
        let docsAfter = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT entry_id::text, doc::text FROM entries e JOIN athletes a ON a.id = e.athlete_id WHERE a.handle = 'ana2' ORDER BY 1")
                .map { [try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1)] }
        }
        #expect(docsAfter == docsBefore, "the re-imported entries are the exported ones")
        let newToken = try await fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana2", name: "new phone", type: "phone", key: TestTokenKey.key, on: $0).1 }
        try await app.test(.router) { client in
            let (changes, _) = try await client.pullAll(token: newToken)
            #expect(changes.filter { $0["type"]?.stringValue == "entry" }.count >= before.entries)
            let push = try await client.push([SyncFixture.createOp(UUID())], token: newToken)
            #expect(push.json?["results"]?.arrayValue?.first?["status"]?.stringValue == "applied", "the feed continues after the imported seqs: \(push.text)")
        }
        // A second import under the same handle fails whole, naming the problem.
        let again = await #expect(throws: AdminError.self) {
            try await fixture.pool.withConnection { try AthleteDataRights.importAthlete(text, handle: "ana2", squad: nil, actor: "maria", on: $0) }
        }
        #expect(again != nil)
        #expect(throws: AdminError.self) {
            _ = try AthleteDataRights.importAthlete("{\"format\": \"other\"}", handle: nil, squad: nil, actor: "x", on: try fixture.database.connect())
        }
        await fixture.close()
    }
}
