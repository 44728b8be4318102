import Crypto
import Foundation

/// Bearer tokens for devices: shown once at enrollment, stored only as SHA-256.
public enum DeviceToken {
    /// A new token: `sq_` and 32 random bytes in base64url (256 bits from the system CSPRNG).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "sq_" + base64
    }

    /// The stored form. Lookups go by this hash: the server never compares secrets byte
    /// by byte, and a stolen database holds no usable token.
    public static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }
}
