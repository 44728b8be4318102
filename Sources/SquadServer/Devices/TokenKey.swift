import Crypto
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// The server's secret key for bearer tokens (`--token-key-file`, `SQUAD_TOKEN_KEY_FILE`).
///
/// A token's secret is stored only as HMAC-SHA256 under this key, so a copy of the database
/// without the key file cannot check guessed tokens offline, and comparisons are constant
/// time (`HMAC.isValidAuthenticationCode`). The database records the key's fingerprint the
/// first time a key is used with it, and every later user must present the same key: a
/// second machine that made a key of its own would otherwise answer every token 401.
public struct TokenKey: Sendable {
    private let key: SymmetricKey
    /// 16 hex digits that identify the key without revealing it.
    public let fingerprint: String

    /// A key of at least 32 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 32 else { throw TokenKeyError(message: "a token key must be at least 32 bytes (64 hex digits); this one has \(bytes.count)") }
        key = SymmetricKey(data: bytes)
        let mark = HMAC<SHA256>.authenticationCode(for: Data("squadsync token key fingerprint".utf8), using: key)
        fingerprint = mark.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random key kept in memory only: for benchmarks on scratch databases.
    public static func random() -> TokenKey {
        var generator = SystemRandomNumberGenerator()
        // 32 bytes always satisfy init(bytes:).
        return try! TokenKey(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Reads the key file (hex); when it does not exist, makes a new random key there
    /// (mode 0600, owned like its folder), so a fresh install needs no step for it.
    public static func load(file: URL) throws -> TokenKey {
        let path = file.path
        if !FileManager.default.fileExists(atPath: path) { try create(at: file) }
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw TokenKeyError(message: "cannot read the token key file \(path) (--token-key-file, SQUAD_TOKEN_KEY_FILE): \(error.localizedDescription)")
        }
        let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Self.bytes(hex: hex) else {
            throw TokenKeyError(message: "the token key file \(path) must hold one key in hex (64 or more hex digits)")
        }
        do { return try TokenKey(bytes: bytes) } catch let error as TokenKeyError {
            throw TokenKeyError(message: "\(path): \(error.message)")
        }
    }

    /// The MAC stored for a token's secret.
    func mac(_ secret: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(secret.utf8), using: key))
    }

    /// Whether `secret` is the one `stored` was made from, in constant time.
    func verify(_ secret: String, against stored: Data) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(stored, authenticating: Data(secret.utf8), using: key)
    }

    /// Records this key's fingerprint in the database on first use; refuses a different key.
    public func check(on connection: Connection) throws {
        try connection.execute("INSERT INTO token_key (fingerprint) VALUES (\(fingerprint)) ON CONFLICT DO NOTHING")
        let recorded = try connection.query("SELECT fingerprint FROM token_key")[0].decode(String.self, at: 0)
        guard recorded == fingerprint else {
            throw TokenKeyError(message: """
                this token key (fingerprint \(fingerprint)) is not the one this database's tokens were issued with (\(recorded)): \
                copy the key file from the machine that issued them and point --token-key-file (SQUAD_TOKEN_KEY_FILE) at it
                """)
        }
    }

    private static func create(at file: URL) throws {
        let folder = file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        // O_EXCL: two processes starting together must not each write a key of their own.
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor < 0 {
            if errno == EEXIST { return }
            throw TokenKeyError(message: "cannot create the token key file \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let line = Array((hex + "\n").utf8)
        guard write(descriptor, line, line.count) == line.count, fsync(descriptor) == 0 else {
            throw TokenKeyError(message: "cannot write the token key file \(file.path): \(String(cString: strerror(errno)))")
        }
        // Owned like its folder, so a service user that owns the home can read a key root made.
        if getuid() == 0, let owner = try? FileManager.default.attributesOfItem(atPath: folder.path),
           let uid = (owner[.ownerAccountID] as? NSNumber)?.uint32Value, let gid = (owner[.groupOwnerAccountID] as? NSNumber)?.uint32Value {
            _ = fchown(descriptor, uid, gid)
        }
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 48...57: digit - 48
            case 97...102: digit - 87
            case 65...70: digit - 55
            default: nil
            }
        }
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

public struct TokenKeyError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
