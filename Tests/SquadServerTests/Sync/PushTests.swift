import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Push and pull over HTTP")
struct PushTests {
    @Test("a create is applied, pulled back in canonical form, and a replay is all duplicate with no new seq")
    func applyAndReplay() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let entry = UUID()
        let ops = [
            SyncFixture.createOp(entry, at: 0),
            SyncFixture.patchOp(entry, base: 1, at: 10, set: ["body.rpe": .int(6), "body.notes": .string("calf tight")]),
        ]
        try await fixture.application().test(.router) { client in
            let first = try await client.push(ops, token: token)
            #expect(first.status == .ok, "\(first.text)")
            let results = try #require(first.json?["results"]?.arrayValue)
            #expect(results.map { $0["status"] } == [.string("applied"), .string("applied")])
            #expect(results[0]["version"] == .int(1))
            #expect(results[1]["version"] == .int(2))
            let checkpoint = try #require(first.json?["write_checkpoint"]?.intValue)
            #expect(first.json?["server_hlc"]?.stringValue.flatMap(HLC.init) != nil)

            let (changes, cursor) = try await client.pullAll(token: token)
            #expect(changes.count == 1)
            #expect(changes[0]["entry"]?.value(at: "body.rpe") == .int(6))
            #expect(changes[0]["entry"]?.value(at: "body.notes") == .string("calf tight"))
            #expect(changes[0]["version"] == .int(2))

            let replay = try await client.push(ops, token: token)
            let replayed = try #require(replay.json?["results"]?.arrayValue)
            #expect(replayed.map { $0["status"] } == [.string("duplicate"), .string("duplicate")])
            #expect(replayed.map { $0["original_status"] } == [.string("applied"), .string("applied")])
            #expect(replayed.map { $0["seq"] } == results.map { $0["seq"] })
            #expect(replay.json?["write_checkpoint"]?.intValue == checkpoint)
            let (after, _) = try await client.pullAll(token: token, from: cursor)
            #expect(after.isEmpty, "a replay makes no new changes")
        }
        #expect(try await fixture.count("applied_ops") == 2)
        await fixture.close()
    }

    @Test("a rejected op is stored with its reason, later ops on its entry are skipped, the rest applies")
    func rejectionDoesNotSpoilTheBatch() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let (good, bad, other) = (UUID(), UUID(), UUID())
        let ops = [
            SyncFixture.createOp(good, at: 0),
            SyncFixture.createOp(bad, at: 1, body: SyncFixture.runEntry(rpe: 11)),
            SyncFixture.patchOp(bad, base: 1, at: 2, set: ["body.rpe": .int(5)]),
            SyncFixture.createOp(other, at: 3, body: SyncFixture.runEntry(distance: -1)),
            SyncFixture.patchOp(good, base: 1, at: 4, set: ["body.distance_m": .string("far")]),
            SyncFixture.patchOp(good, base: 1, at: 5, set: ["body.notes": .string("ok")]),
        ]
        try await fixture.application().test(.router) { client in
            let answer = try await client.push(ops, token: token)
            let results = try #require(answer.json?["results"]?.arrayValue)
            #expect(results.map { $0["status"]?.stringValue } == ["applied", "rejected", "skipped", "rejected", "rejected", "skipped"])
            #expect(results[1]["field"] == .string("body.rpe"))
            #expect(results[1]["code"] == .string("invalid_field"))
            #expect(results[3]["field"] == .string("body.distance_m"))
            #expect(results[3]["message"]?.stringValue?.contains(">= 0") == true)
            #expect(results[4]["field"] == .string("body.distance_m"))
            let again = try await client.push(ops, token: token)
            let echoed = try #require(again.json?["results"]?.arrayValue)
            #expect(echoed.map { $0["original_status"]?.stringValue } == ["applied", "rejected", "skipped", "rejected", "rejected", "skipped"])
            #expect(echoed[1]["field"] == .string("body.rpe"))
        }
        #expect(try await fixture.count("entries") == 1)
        #expect(try await fixture.count("applied_ops") == 6)
        await fixture.close()
    }

    @Test("a database error mid-batch leaves no trace and answers 503; the retry applies everything once")
    func faultInjection() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let poison = UUID()
        try await fixture.pool.withConnection { connection in
            try connection.executeScript("""
                CREATE FUNCTION fail_on_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.op_id = '\(poison.uuidString.lowercased())' THEN RAISE EXCEPTION 'injected failure'; END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER poison BEFORE INSERT ON applied_ops FOR EACH ROW EXECUTE FUNCTION fail_on_poison();
                """)
        }
        let entries = (0..<5).map { _ in UUID() }
        var built = entries.map { SyncFixture.createOp($0, at: 0) }
        built.insert(SyncFixture.createOp(UUID(), op: poison, at: 1), at: 3)
        let ops = built
        try await fixture.application().test(.router) { client in
            let failed = try await client.push(ops, token: token)
            #expect(failed.status == .serviceUnavailable)
            #expect(failed.errorCode == "database_unavailable")
            #expect(failed.headers[.retryAfter] != nil)
        }
        #expect(try await fixture.count("entries") == 0)
        #expect(try await fixture.count("applied_ops") == 0)
        #expect(try await fixture.pool.withConnection { try $0.query("SELECT coalesce(max(last_seq), 0) FROM athlete_sync")[0].decode(Int.self, at: 0) } == 0)

        try await fixture.pool.withConnection { try $0.execute("DROP TRIGGER poison ON applied_ops") }
        try await fixture.application().test(.router) { client in
            let retried = try await client.push(ops, token: token)
            #expect(retried.status == .ok)
            #expect(retried.json?["results"]?.arrayValue?.allSatisfy { $0["status"] == .string("applied") } == true)
            let again = try await client.push(ops, token: token)
            #expect(again.json?["results"]?.arrayValue?.allSatisfy { $0["status"] == .string("duplicate") } == true)
        }
        #expect(try await fixture.count("entries") == 6)
        #expect(try await fixture.count("applied_ops") == 6)
        await fixture.close()
    }

    @Test("an op the database refuses is isolated under its own savepoint; the others apply")
    func savepointFallback() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        // A constraint the validator does not know about stands in for any data error.
        try await fixture.pool.withConnection {
            try $0.execute("ALTER TABLE entries ADD CONSTRAINT test_max_distance CHECK ((doc->'body'->>'distance_m')::float8 < 100000)")
        }
        let ops = [
            SyncFixture.createOp(UUID(), at: 0),
            SyncFixture.createOp(UUID(), at: 1, body: SyncFixture.runEntry(distance: 500_000)),
            SyncFixture.createOp(UUID(), at: 2),
        ]
        try await fixture.application().test(.router) { client in
            let answer = try await client.push(ops, token: token)
            #expect(answer.status == .ok, "\(answer.text)")
            let results = try #require(answer.json?["results"]?.arrayValue)
            #expect(results.map { $0["status"]?.stringValue } == ["applied", "rejected", "applied"])
            #expect(results[1]["code"] == .string("storage_rejected"))
        }
        #expect(try await fixture.count("entries") == 2)
        #expect(try await fixture.count("applied_ops") == 3)
        await fixture.close()
    }

    @Test("concurrent edits from two devices merge; the losing note becomes a pullable conflict")
    func conflictOverHTTP() async throws {
        let fixture = try await SyncFixture.make()
        let watch = fixture.tokens["ana-watch"]!
        let phone = fixture.tokens["ana-phone"]!
        let entry = UUID()
        try await fixture.application().test(.router) { client in
            _ = try await client.push([SyncFixture.createOp(entry, at: 0)], token: watch)
            let fromPhone = try await client.push([SyncFixture.patchOp(entry, base: 1, at: 20, node: "phone", set: ["body.notes": .string("calf tight")])], token: phone)
            #expect(fromPhone.json?["results"]?.arrayValue?.first?["status"] == .string("applied"))
            let fromWatch = try await client.push([SyncFixture.patchOp(entry, base: 1, at: 10, node: "watch", set: ["body.notes": .string("felt great"), "body.rpe": .int(7)])], token: watch)
            let result = try #require(fromWatch.json?["results"]?.arrayValue?.first)
            #expect(result["status"] == .string("merged"))
            #expect(result["conflicts"]?.arrayValue?.count == 1)
            let (changes, _) = try await client.pullAll(token: phone)
            let entryChange = try #require(changes.first { $0["type"] == .string("entry") })
            #expect(entryChange["entry"]?.value(at: "body.notes") == .string("calf tight"))
            #expect(entryChange["entry"]?.value(at: "body.rpe") == .int(7), "the scalar merged by HLC order per field")
            let conflict = try #require(changes.first { $0["type"] == .string("conflict") })
            #expect(conflict["field"] == .string("body.notes"))
            #expect(conflict["other"] == .string("felt great"))
            #expect(conflict["status"] == .string("open"))
        }
        await fixture.close()
    }

    @Test("a far-future clock is clamped and flagged with clock_skew")
    func clockSkew() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        try await fixture.application().test(.router) { client in
            let answer = try await client.push([SyncFixture.createOp(UUID(), at: 86_400_000)], token: token)
            #expect(answer.json?["results"]?.arrayValue?.first?["clock_skew"] == .bool(true))
            let serverHLC = try #require(answer.json?["server_hlc"]?.stringValue.flatMap(HLC.init))
            #expect(serverHLC.millis < SyncFixture.clockStart + 3_600_000)
        }
        await fixture.close()
    }
}
