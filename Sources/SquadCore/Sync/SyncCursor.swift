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
