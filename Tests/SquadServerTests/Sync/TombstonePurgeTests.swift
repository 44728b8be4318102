import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Tombstone retention")
struct TombstonePurgeTests {
    @Test("deleted entries are emptied after 30 days and removed after 180; older cursors get 410; a purged entry cannot be edited")
    func retention() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let (kept, recent, month, old) = (UUID(), UUID(), UUID(), UUID())
        try await fixture.application().test(.router) { client in
            let creates = [kept, recent, month, old].enumerated().map { SyncFixture.createOp($0.element, at: Int64($0.offset), body: SyncFixture.runEntry(distance: 5000 + Int64($0.offset))) }
            #expect(try await client.push(creates, token: token).status == .ok)
            let (_, afterCreates) = try await client.pullAll(token: token)
            let deletes = [recent, month, old].map { SyncFixture.deleteOp($0, base: 1, at: 100) }
            #expect(try await client.push(deletes, token: token).status == .ok)
            let (_, afterDeletes) = try await client.pullAll(token: token)
            // Age the tombstones as if days had passed.
            try await fixture.pool.withConnection { connection in
                for (entry, days) in [(recent, 10), (month, 40), (old, 200)] {
                    try connection.execute("UPDATE entries SET deleted_at = now() - make_interval(days => \(days)::int) WHERE entry_id = \(entry)")
                }
            }
            let preview = try await fixture.pool.withConnection { try TombstonePurge.preview(on: $0) }
            #expect(preview == TombstonePurge.Report(bodiesPurged: 1, tombstonesRemoved: 1, horizonsAdvanced: 1))
            let report = try await fixture.pool.withConnection { try TombstonePurge.run(on: $0) }
            #expect(report == preview, "the dry run changed nothing and predicted the run")
            let again = try await fixture.pool.withConnection { try TombstonePurge.run(on: $0) }
            #expect(again == TombstonePurge.Report(bodiesPurged: 0, tombstonesRemoved: 0, horizonsAdvanced: 0), "idempotent")

            let rows = try await fixture.pool.withConnection { connection in
                try connection.query("SELECT entry_id::text, deleted, doc ? 'body', doc::text FROM entries ORDER BY entry_id").map {
                    (try $0.decode(String.self, at: 0), try $0.decode(Bool.self, at: 1), try $0.decode(Bool.self, at: 2), try $0.decode(String.self, at: 3))
                }
            }
            let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.0, $0) })
            #expect(byID[kept.uuidString.lowercased()]?.2 == true, "a live entry is untouched")
            #expect(byID[recent.uuidString.lowercased()]?.2 == true, "a tombstone inside 30 days keeps its body for undo")
            let emptied = try #require(byID[month.uuidString.lowercased()])
            #expect(emptied.1 && !emptied.2 && !emptied.3.contains("distance_m") && !emptied.3.contains("source"), "only the id is left: \(emptied.3)")
            #expect(byID[old.uuidString.lowercased()] == nil, "past 180 days the tombstone is gone")

            // A cursor from before the removed tombstone has expired; one after it and a fresh pull work.
            let stale = try await client.send(.get, "/v1/sync/pull?cursor=\(afterCreates ?? "")", token: token)
            #expect(stale.status == .gone && stale.errorCode == "cursor_expired")
            #expect(try await client.send(.get, "/v1/sync/pull?cursor=\(afterDeletes ?? "")", token: token).status == .ok)
            let (fresh, _) = try await client.pullAll(token: token)
            let ids = Set(fresh.compactMap { $0["entry_id"]?.stringValue?.lowercased() })
            #expect(ids.contains(month.uuidString.lowercased()) && !ids.contains(old.uuidString.lowercased()))

            // Undo inside the window still works; on an emptied tombstone it is refused, with a reason.
            let undo = try await client.push([SyncFixture.patchOp(recent, base: 2, at: 200, set: ["body.notes": .string("restored")])], token: token)
            #expect(undo.json?["results"]?.arrayValue?.first?["status"]?.stringValue == "applied", "\(undo.text)")
            let late = try await client.push([SyncFixture.patchOp(month, base: 2, at: 200, set: ["body.notes": .string("too late")])], token: token)
            #expect(late.json?["results"]?.arrayValue?.first?["status"]?.stringValue == "conflict")
            #expect(late.json?["results"]?.arrayValue?.first?["code"]?.stringValue == "entry_purged", "\(late.text)")
            let deleteAgain = try await client.push([SyncFixture.deleteOp(month, base: 2, at: 300)], token: token)
            #expect(deleteAgain.json?["results"]?.arrayValue?.first?["code"]?.stringValue == "entry_purged")
        }
        await fixture.close()
    }
}
