import Foundation
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Coaches settling conflicts")
struct ConflictResolutionTests {
    /// Two devices edit the same note concurrently: the phone's stands, the watch's is kept aside.
    static func makeConflict(_ fixture: SyncFixture, client: some TestClientProtocol, entry: UUID) async throws {
        let watch = fixture.tokens["ana-watch"]!
        let phone = fixture.tokens["ana-phone"]!
        _ = try await client.push([SyncFixture.createOp(entry, at: 0)], token: watch)
        _ = try await client.push([SyncFixture.patchOp(entry, base: 1, at: 20, node: "phone", set: ["body.notes": .string("calf tight")])], token: phone)
        _ = try await client.push([SyncFixture.patchOp(entry, base: 1, at: 10, node: "watch", set: ["body.notes": .string("felt great")])], token: watch)
    }

    @Test("keep other: the losing value is written through the merge engine, devices pull it, the audit trail has it")
    func keepOther() async throws {
        let fixture = try await SyncFixture.make()
        let phone = fixture.tokens["ana-phone"]!
        let entry = UUID()
        try await fixture.application().test(.router) { client in
            try await Self.makeConflict(fixture, client: client, entry: entry)
            let (_, cursor) = try await client.pullAll(token: phone)
            let open = try await fixture.pool.withConnection { try ConflictService.list(handle: "ana", includeClosed: false, on: $0) }
            let conflict = try #require(open.first)
            #expect(open.count == 1 && conflict.other == .string("felt great") && conflict.kept == .string("calf tight"))

            let resolved = try await fixture.pool.withTransaction {
                try ConflictService.resolve(conflict.id, keep: "other", coach: "maria", nowMillis: SyncFixture.clockStart + 60_000, on: $0)
            }
            #expect(resolved.status == "resolved")
            let (changes, _) = try await client.pullAll(token: phone, from: cursor)
            let updated = try #require(changes.first { $0["type"] == .string("entry") })
            #expect(updated["entry"]?.value(at: "body.notes") == .string("felt great"))
            #expect(changes.first { $0["type"] == .string("conflict") }?["status"] == .string("resolved"))
            #expect(try await fixture.pool.withConnection { try ConflictService.list(handle: "ana", includeClosed: false, on: $0) }.isEmpty)

            let audit = try await fixture.pool.withConnection { try AuditStore.list(handle: "ana", on: $0) }
            #expect(audit.first?.action == "conflict.resolve" && audit.first?.actor == "maria")
            #expect(audit.first?.after?["value"] == .string("felt great"))
            await #expect(throws: AdminError.self) {
                try await fixture.pool.withTransaction { try ConflictService.resolve(conflict.id, keep: "kept", coach: "maria", nowMillis: 0, on: $0) }
            }
        }
        await fixture.close()
    }

    @Test("keep kept: the standing value stays and the record is closed")
    func keepKept() async throws {
        let fixture = try await SyncFixture.make()
        let entry = UUID()
        try await fixture.application().test(.router) { client in
            try await Self.makeConflict(fixture, client: client, entry: entry)
            let conflict = try #require(try await fixture.pool.withConnection { try ConflictService.list(handle: nil, includeClosed: false, on: $0) }.first)
            _ = try await fixture.pool.withTransaction { try ConflictService.resolve(conflict.id, keep: "kept", coach: "maria", nowMillis: SyncFixture.clockStart, on: $0) }
            let notes = try await fixture.pool.withConnection {
                try $0.query("SELECT doc #>> '{body,notes}' FROM entries WHERE entry_id = \(entry)")[0].decode(String.self, at: 0)
            }
            #expect(notes == "calf tight")
            #expect(try await fixture.count("sync_conflicts") == 1)
        }
        await fixture.close()
    }
}
