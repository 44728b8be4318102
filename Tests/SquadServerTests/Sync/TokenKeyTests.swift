import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadServer
import Testing
import TestSupport

@Suite("Token storage: lookup id plus HMAC under the server key")
struct TokenKeyTests {
    static func otherKey() throws -> TokenKey { try TokenKey(bytes: Array(repeating: 0x11, count: 32)) }

    @Test("tokens are <prefix><lookup>.<secret>; the row holds the lookup and an HMAC, never the token or its SHA-256")
    func storedForm() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let parts = try #require(DeviceToken.parse(token), "\(token)")
        #expect(token.hasPrefix("sq_") && parts.lookup.count == 16 && parts.secret.count == 43)
        let (lookup, stored) = try await fixture.pool.withConnection { connection in
            let row = try connection.query("SELECT token_lookup, token_hash FROM devices WHERE id = \(fixture.devices["ana-watch"]!.id)")[0]
            return (try row.decode(String.self, at: 0), try row.decode(Data.self, at: 1))
        }
        #expect(lookup == parts.lookup)
        #expect(stored != DeviceToken.legacyHash(token), "not a bare SHA-256 of the token")
        let expected = Data(HMAC<SHA256>.authenticationCode(for: Data(parts.secret.utf8), using: SymmetricKey(data: Array(repeating: UInt8(0x5a), count: 32))))
        #expect(stored == expected, "HMAC-SHA256 of the secret under the server key")
        #expect(!stored.contains(Data(parts.secret.utf8)))
        await fixture.close()
    }

    @Test("a right lookup with a wrong secret, a token under another key, and a malformed token are all 401")
    func wrongSecrets() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let parts = try #require(DeviceToken.parse(token))
        var flipped = Array(parts.secret)
        flipped[0] = flipped[0] == "A" ? "B" : "A"
        let wrongSecret = "sq_" + parts.lookup + "." + String(flipped)
        let outcomes = try await fixture.pool.withConnection { connection in
            (try DeviceStore.authenticate(token: token, key: TestTokenKey.key, on: connection),
             try DeviceStore.authenticate(token: wrongSecret, key: TestTokenKey.key, on: connection),
             try DeviceStore.authenticate(token: token, key: try Self.otherKey(), on: connection),
             try DeviceStore.authenticate(token: "sq_" + parts.lookup, key: TestTokenKey.key, on: connection))
        }
        guard case .valid(let device) = outcomes.0 else { Issue.record("the right token must be valid: \(outcomes.0)"); return }
        #expect(device.id == fixture.devices["ana-watch"]!.id)
        #expect(outcomes.1 == .unknown)
        #expect(outcomes.2 == .unknown, "the database alone (without the key) cannot vouch for a token")
        #expect(outcomes.3 == .unknown)
        try await fixture.application().test(.router) { client async throws in
            #expect(try await client.send(.get, "/v1/sync/pull", token: wrongSecret).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/sync/pull", token: token).status == .ok)
        }
        await fixture.close()
    }

    @Test("a token issued before the key (SHA-256, no lookup id) keeps working until rotated; rotation keeps the lookup id")
    func legacyTokens() async throws {
        let fixture = try await SyncFixture.make()
        let device = fixture.devices["ana-phone"]!
        let legacy = "sq_" + String(repeating: "L", count: 43)
        try await fixture.pool.withConnection {
            try $0.execute("UPDATE devices SET token_lookup = NULL, token_hash = \(DeviceToken.legacyHash(legacy)) WHERE id = \(device.id)")
        }
        let (_, rotated) = try await fixture.application().test(.router) { client -> (Int, String) in
            #expect(try await client.send(.get, "/v1/sync/pull", token: legacy).status == .ok, "an old-format token still works")
            let (_, new) = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 600, key: TestTokenKey.key, on: $0) }
            #expect(DeviceToken.parse(new) != nil, "rotation issues a current-format token: \(new)")
            #expect(try await client.send(.get, "/v1/sync/pull", token: new).status == .ok)
            #expect(try await client.send(.get, "/v1/sync/pull", token: legacy).status == .ok, "the legacy token during the grace period")
            try await fixture.pool.withConnection { try $0.execute("UPDATE devices SET previous_expires_at = now() - interval '1 second' WHERE id = \(device.id)") }
            #expect(try await client.send(.get, "/v1/sync/pull", token: legacy).status == .unauthorized)
            return (0, new)
        }
        let (_, again) = try await fixture.pool.withTransaction { try DeviceStore.rotate(device.id, graceSeconds: 0, key: TestTokenKey.key, on: $0) }
        #expect(DeviceToken.parse(again)?.lookup == DeviceToken.parse(rotated)?.lookup, "a device keeps its lookup id across rotations")
        #expect(DeviceToken.parse(again)?.secret != DeviceToken.parse(rotated)?.secret)
        await fixture.close()
    }

    @Test("the database remembers the key's fingerprint: issuing with another key is refused with a clear error")
    func keyMismatch() async throws {
        let fixture = try await SyncFixture.make()
        let error = await #expect(throws: TokenKeyError.self) {
            _ = try await fixture.pool.withTransaction {
                try DeviceStore.enroll(handle: "ana", name: "third", type: "phone", key: try Self.otherKey(), on: $0)
            }
        }
        #expect(error?.message.contains("not the one this database's tokens were issued with") == true, "\(error?.message ?? "-")")
        #expect(error?.message.contains(TestTokenKey.key.fingerprint) == true)
        await fixture.close()
    }

    @Test("a missing key file is made once (0600, 32 random bytes in hex) and read back the same; a bad one is an error naming it")
    func keyFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("squadsync-key-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("sub/token.key")
        let first = try TokenKey.load(file: file)
        let second = try TokenKey.load(file: file)
        #expect(first.fingerprint == second.fingerprint)
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text.count == 64 && text.allSatisfy(\.isHexDigit))
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let other = folder.appendingPathComponent("other.key")
        _ = try TokenKey.load(file: other)
        #expect(try TokenKey.load(file: other).fingerprint != first.fingerprint, "each new key is random")
        try "not hex\n".write(to: other, atomically: true, encoding: .utf8)
        let bad = #expect(throws: TokenKeyError.self) { try TokenKey.load(file: other) }
        #expect(bad?.message.contains(other.path) == true)
        try "abcd\n".write(to: other, atomically: true, encoding: .utf8)
        let short = #expect(throws: TokenKeyError.self) { try TokenKey.load(file: other) }
        #expect(short?.message.contains("at least 32 bytes") == true)
    }
}
