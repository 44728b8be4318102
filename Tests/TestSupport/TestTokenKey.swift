import Foundation
import SquadServer

/// The token key of the whole test run: in-process stores use `key`, and every `coach`
/// process a test starts reads `file` (its path is put in SQUAD_TOKEN_KEY_FILE of this
/// process, which child processes inherit), so both sides agree on every test database.
public enum TestTokenKey {
    public static let file: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("squadsync-test-token-\(getpid()).key")
        // A fixed key: test data only.
        try? (String(repeating: "5a", count: 32) + "\n").write(to: url, atomically: true, encoding: .utf8)
        setenv("SQUAD_TOKEN_KEY_FILE", url.path, 1)
        return url
    }()

    public static let key: TokenKey = {
        do { return try TokenKey.load(file: file) } catch { fatalError("test token key: \(error)") }
    }()
}
