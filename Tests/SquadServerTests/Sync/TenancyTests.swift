import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Tenancy and tokens")
struct TenancyTests {
    @Test("a device of athlete A gets 404 for every entry of athlete B, on every route")
    func otherAthletesEntriesAreInvisible() async throws {
        let fixture = try await SyncFixture.make()
        let bob = fixture.tokens["bob-phone"]!
        let ana = fixture.tokens["ana-watch"]!
        let bobsEntry = UUID()
        try await fixture.application().test(.router) { client in
            #expect(try await client.push([SyncFixture.createOp(bobsEntry, at: 0)], token: bob).status == .ok)
            #expect(try await client.send(.get, "/v1/entries/\(bobsEntry.uuidString)", token: bob).status == .ok)
            let read = try await client.send(.get, "/v1/entries/\(bobsEntry.uuidString)", token: ana)
            #expect(read.status == .notFound)
            #expect(read.errorCode == "not_found")
            let (anasFeed, _) = try await client.pullAll(token: ana)
            #expect(anasFeed.isEmpty)
            let patch = try await client.push([SyncFixture.patchOp(bobsEntry, base: 1, at: 5, set: ["body.notes": .string("mine now")])], token: ana)
            #expect(patch.json?["results"]?.arrayValue?.first?["code"] == .string("unknown_entry"))
            let delete = try await client.push([SyncFixture.deleteOp(bobsEntry, base: 1, at: 6)], token: ana)
            #expect(delete.json?["results"]?.arrayValue?.first?["code"] == .string("unknown_entry"))
            // Bob's cursor means nothing to Ana.
            let (_, bobsCursor) = try await client.pullAll(token: bob)
            let foreign = try await client.send(.get, "/v1/sync/pull?cursor=\(bobsCursor!)", token: ana)
            #expect(foreign.status == .badRequest)
            #expect(foreign.errorCode == "invalid_cursor")
            let still = try await client.send(.get, "/v1/entries/\(bobsEntry.uuidString)", token: bob)
            #expect(still.json?["entry"]?.value(at: "body.notes") == .string("easy"))
        }
        await fixture.close()
    }

    @Test("missing or unknown tokens get 401, a revoked token 403, on every route")
    func tokens() async throws {
        let fixture = try await SyncFixture.make()
        let revoked = fixture.tokens["ana-phone"]!
        _ = try await fixture.pool.withTransaction { try DeviceStore.revoke(fixture.devices["ana-phone"]!.id, on: $0) }
        let routes: [(HTTPRequest.Method, String, String?)] = [
            (.post, "/v1/sync/push", SyncFixture.pushBody([])), (.get, "/v1/sync/pull", nil), (.get, "/v1/entries/\(UUID().uuidString)", nil),
        ]
        try await fixture.application().test(.router) { client in
            for (method, uri, body) in routes {
                let missing = try await client.send(method, uri, token: nil, body: body)
                #expect(missing.status == .unauthorized, "\(uri)")
                #expect(missing.errorCode == "missing_token")
                let unknown = try await client.send(method, uri, token: "sq_not-a-real-token", body: body)
                #expect(unknown.status == .unauthorized, "\(uri)")
                let refused = try await client.send(method, uri, token: revoked, body: body)
                #expect(refused.status == .forbidden, "\(uri)")
                #expect(refused.errorCode == "device_revoked")
            }
        }
        let stored = try await fixture.pool.withConnection { try $0.query("SELECT count(*) FROM devices WHERE token_hash = \(Data(revoked.utf8))")[0].decode(Int.self, at: 0) }
        #expect(stored == 0, "tokens are stored only as hashes")
        await fixture.close()
    }
}
