import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import SquadServer
import Testing
import TestSupport

@Suite("Pushes authenticated from memory")
struct RecentTokensTests {
    @Test("a token that pushed is checked in memory, and the push's transaction confirms it: revoked 403, past a rotation's grace 401, erased 410, nothing stored")
    func confirmedInTheTransaction() async throws {
        let fixture = try await SyncFixture.make()
        let tokens = RecentTokens()
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key,
                                   logger: Logger(label: "test"), recentTokens: tokens, now: { Date(timeIntervalSince1970: Double(SyncFixture.clockStart) / 1000 + 60) })
        @Sendable func lookup(_ token: String) -> String { DeviceToken.parse(token)!.lookup }
        @Sendable func stored(_ op: UUID) async throws -> Int {
            try await fixture.pool.withConnection { try $0.query("SELECT count(*) FROM applied_ops WHERE op_id = \(op)")[0].decode(Int.self, at: 0) }
        }
        let watch = fixture.tokens["ana-watch"]!, phone = fixture.tokens["ana-phone"]!, bob = fixture.tokens["bob-phone"]!
        try await app.test(.router) { client in
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: watch).status == .ok)
            #expect(tokens.record(lookup: lookup(watch)) != nil, "a token that authenticated is remembered")
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: watch).status == .ok, "and pushes from memory")

            // Revoked since it was remembered: 403, the push rolled back, the token forgotten.
            _ = try await fixture.pool.withTransaction { try DeviceStore.revoke(fixture.devices["ana-watch"]!.id, on: $0) }
            let afterRevoke = UUID()
            let refused = try await client.push([SyncFixture.createOp(UUID(), op: afterRevoke)], token: watch)
            #expect(refused.status == .forbidden && refused.errorCode == "device_revoked")
            #expect(try await stored(afterRevoke) == 0)
            #expect(tokens.record(lookup: lookup(watch)) == nil)

            // A bad body from a remembered, since revoked token: still 403 first, as without memory.
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: phone).status == .ok)
            _ = try await fixture.pool.withTransaction { try DeviceStore.revoke(fixture.devices["ana-phone"]!.id, on: $0) }
            let malformed = try await client.send(.post, "/v1/sync/push", token: phone, body: "{\"protocol\": 1, \"ops\": [")
            #expect(malformed.status == .forbidden && malformed.errorCode == "device_revoked")

            // Rotation: the old token keeps pushing during the grace period, then 401.
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: bob).status == .ok)
            let device = fixture.devices["bob-phone"]!
            let (_, new) = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 600, key: TestTokenKey.key, on: $0) }
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: bob).status == .ok, "the old token during the grace period")
            try await fixture.pool.withConnection { try $0.execute("UPDATE devices SET previous_expires_at = now() - interval '1 second' WHERE id = \(device.id)") }
            let afterGrace = UUID()
            let expired = try await client.push([SyncFixture.createOp(UUID(), op: afterGrace)], token: bob)
            #expect(expired.status == .unauthorized && expired.errorCode == "invalid_token")
            #expect(try await stored(afterGrace) == 0)
            #expect(try await client.push([SyncFixture.createOp(UUID())], token: new).status == .ok)

            // Erased since: 410.
            _ = try await fixture.pool.withConnection { try AthleteDataRights.erase(handle: "bob", actor: "test", on: $0) }
            let afterErasure = UUID()
            let gone = try await client.push([SyncFixture.createOp(UUID(), op: afterErasure)], token: new)
            #expect(gone.status == .gone && gone.errorCode == "athlete_erased")
            #expect(try await stored(afterErasure) == 0)
        }
        await fixture.close()
    }
}
