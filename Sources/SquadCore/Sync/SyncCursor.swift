import Foundation

/// The opaque pull cursor: base64url of `v1.<athlete>.<seq>` (SYNC.md "Pull").
///
/// Bound to one athlete: a cursor of another athlete, or anything malformed, is refused.
public enum SyncCursor {
    public static func encode(athleteID: Int64, seq: Int64) -> String {
        Data("v1.\(athleteID).\(seq)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The seq after which to pull; 0 for no cursor (or `0`); nil when it is not a cursor of this athlete.
    public static func decode(_ cursor: String?, athleteID: Int64) -> Int64? {
        guard let cursor, !cursor.isEmpty, cursor != "0" else { return 0 }
        guard cursor.utf8.count <= 200 else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", Int64(parts[1]) == athleteID, let seq = Int64(parts[2]), seq >= 0 else { return nil }
        return seq
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive),
/// or why there is none. Read as bytes, not characters: a combining mark after the space
/// must not change where the token starts (found by fuzzing). Tokens are 1-200 visible
/// ASCII characters; anything else is `invalid`.
public enum BearerToken {
    public enum Failure: Error, Sendable, Equatable {
        /// No header, or not the Bearer scheme.
        case missing
        /// Bearer, but no usable token.
        case invalid
    }

    public static func parse(_ header: String?) -> Result<String, Failure> {
        guard let header else { return .failure(.missing) }
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count >= scheme.count,
              zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $1 == 0x20 ? $0 == 0x20 : ($0 | 0x20) == $1 }) else {
            return .failure(.missing)
        }
        var token = bytes[scheme.count...]
        while let first = token.first, first == 0x20 || first == 0x09 { token = token.dropFirst() }
        while let last = token.last, last == 0x20 || last == 0x09 { token = token.dropLast() }
        guard !token.isEmpty, token.count <= 200, token.allSatisfy({ (0x21...0x7e).contains($0) }) else { return .failure(.invalid) }
        return .success(String(decoding: token, as: UTF8.self))
    }
}
