import Crypto
import Foundation

/// Bearer tokens for devices (`sq_`) and coaches (`sqc_`): shown once, never stored.
///
/// A token is `<prefix><lookup>.<secret>`: 16 base64url characters that find the row (an
/// index lookup, no secret involved) and 43 of secret (256 bits from the system CSPRNG),
/// stored as HMAC-SHA256 under the server's `TokenKey`. Tokens issued before migration
/// 0012 have no dot; they are stored as the SHA-256 of the whole token and keep working
/// until the device is rotated.
public enum DeviceToken {
    public static let devicePrefix = "sq_"
    public static let coachPrefix = "sqc_"

    /// A token's two parts.
    public struct Parts: Sendable, Equatable {
        public var lookup: String
        public var secret: String
    }

    /// A new token: the given lookup id (a rotation keeps the device's) or a new one, and a new secret.
    public static func generate(prefix: String = devicePrefix, lookup: String? = nil) -> (token: String, parts: Parts) {
        let parts = Parts(lookup: lookup ?? base64url(random(12)), secret: base64url(random(32)))
        return (prefix + parts.lookup + "." + parts.secret, parts)
    }

    /// The parts of a current-format token, or nil (a legacy token, or not a token at all).
    public static func parse(_ token: String) -> Parts? {
        let body: Substring
        if token.hasPrefix(coachPrefix) { body = token.dropFirst(coachPrefix.count) }
        else if token.hasPrefix(devicePrefix) { body = token.dropFirst(devicePrefix.count) }
        else { return nil }
        let pieces = body.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 2, pieces[0].utf8.count == 16, (32...128).contains(pieces[1].utf8.count),
              pieces.allSatisfy({ $0.utf8.allSatisfy(isBase64URL) }) else { return nil }
        return Parts(lookup: String(pieces[0]), secret: String(pieces[1]))
    }

    /// The stored form of a legacy token (issued before 0012): SHA-256 of the whole token.
    public static func legacyHash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 95
    }

    private static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
