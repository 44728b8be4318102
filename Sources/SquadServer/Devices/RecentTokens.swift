import Foundation
import Postgres
import Synchronization

/// Device tokens that authenticated lately, by lookup id, with the HMACs their secrets are
/// checked against (never the tokens), so that a push checks its token in memory instead
/// of in a round trip of its own before its body is read.
///
/// The database keeps the last word: a push authenticated from memory reads the device
/// again in its own first round trip (`DeviceConfirmation`), and is rolled back and
/// answered as before (403 revoked, 401 past a rotation's grace, 410 erased) if anything
/// changed; the token is then forgotten. A token not in memory is checked against the
/// database before the body is read, as before: nobody gets a body read with a token
/// that never worked.
public final class RecentTokens: Sendable {
    /// Past this many tokens all are forgotten; each costs one lookup to learn again.
    public static let capacity = 10_000
    private let records = Mutex<[String: DeviceStore.TokenRecord]>([:])

    public init() {}

    public func record(lookup: String) -> DeviceStore.TokenRecord? {
        records.withLock { $0[lookup] }
    }

    public func remember(_ record: DeviceStore.TokenRecord, lookup: String) {
        records.withLock { records in
            if records.count >= Self.capacity, records[lookup] == nil { records.removeAll(keepingCapacity: true) }
            records[lookup] = record
        }
    }

    public func forget(lookup: String) {
        _ = records.withLock { $0.removeValue(forKey: lookup) }
    }
}

/// A device a push authenticated from memory (`RecentTokens`), to be confirmed by the
/// database in the push's first round trip, inside its transaction.
public struct DeviceConfirmation: Sendable {
    public var parts: DeviceToken.Parts
    public var device: AuthenticatedDevice
    public var key: TokenKey
    public var tokens: RecentTokens

    /// The database no longer accepts what memory did: `outcome` is what the database
    /// says of the token now (`.valid` of an erased athlete's device included).
    public struct Refused: Error, Equatable {
        public var outcome: DeviceStore.Authentication
    }

    public init(parts: DeviceToken.Parts, device: AuthenticatedDevice, key: TokenKey, tokens: RecentTokens) {
        self.parts = parts
        self.device = device
        self.key = key
        self.tokens = tokens
    }

    public var statement: SQL { DeviceStore.recordStatement(lookup: parts.lookup) }

    /// Throws `Refused`, forgetting the token, unless the database still finds the same
    /// device for it, not revoked and its athlete not erased; else remembers what it found.
    public func check(_ rows: QueryResult) throws {
        let record = try DeviceStore.decodeRecord(rows)
        let outcome = record?.authenticate(parts.secret, key: key) ?? .unknown
        guard let record, outcome == .valid(device) else {
            tokens.forget(lookup: parts.lookup)
            throw Refused(outcome: outcome)
        }
        tokens.remember(record, lookup: parts.lookup)
    }

    /// The same check with a lookup of its own, for a push refused before its transaction:
    /// nil when the database still accepts the device, else what it says of the token.
    public func refusal(pool: ConnectionPool) async throws -> DeviceStore.Authentication? {
        let statement = self.statement
        do {
            try check(await pool.withConnection { try $0.query(statement) })
            return nil
        } catch let refused as Refused {
            return refused.outcome
        }
    }
}
