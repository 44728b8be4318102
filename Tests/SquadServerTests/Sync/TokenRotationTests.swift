import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadServer
import Testing
import TestSupport

@Suite("Device token rotation")
struct TokenRotationTests {
    @Test("after rotation both tokens work during the grace period, then only the new one; revocation ends both")
    func rotation() async throws {
        let fixture = try await SyncFixture.make()
        let device = fixture.devices["ana-watch"]!
        let old = fixture.tokens["ana-watch"]!
        let (_, new) = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 600, key: TestTokenKey.key, on: $0) }
        #expect(new != old && new.hasPrefix("sq_"))
        try await fixture.application().test(.router) { client in
            #expect(try await client.send(.get, "/v1/sync/pull", token: new).status == .ok)
            #expect(try await client.send(.get, "/v1/sync/pull", token: old).status == .ok, "the old token works during the grace period")
            // The grace period ends.
            try await fixture.pool.withConnection { try $0.execute("UPDATE devices SET previous_expires_at = now() - interval '1 second' WHERE id = \(device.id)") }
            let expired = try await client.send(.get, "/v1/sync/pull", token: old)
            #expect(expired.status == .unauthorized && expired.errorCode == "invalid_token")
            #expect(try await client.send(.get, "/v1/sync/pull", token: new).status == .ok)
            // Rotating again with no grace: the previous token is refused at once.
            let (_, newer) = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 0, key: TestTokenKey.key, on: $0) }
            #expect(try await client.send(.get, "/v1/sync/pull", token: new).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/sync/pull", token: newer).status == .ok)
            // Revocation covers the device whatever token it presents.
            _ = try await fixture.pool.withTransaction { try DeviceStore.revoke(device.id, on: $0) }
            #expect(try await client.send(.get, "/v1/sync/pull", token: newer).status == .forbidden)
        }
        await #expect(throws: AdminError.self) {
            _ = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 60, key: TestTokenKey.key, on: $0) }
        }
        await fixture.close()
    }
}
