import Foundation

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
