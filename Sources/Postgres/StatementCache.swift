internal import CLibPQ

/// The named prepared statements of one session, by statement text and parameter types.
///
/// Why: PostgreSQL parses, analyzes and plans an unnamed statement anew every time. A push
/// runs the same couple of dozen statements over and over, and on this 2-core machine that
/// preparation was about half of a small push's database CPU. A named statement is parsed
/// once per session; after five runs PostgreSQL may also keep a generic plan when it
/// costs no more than the custom ones (`plan_cache_mode`).
///
/// Rules:
/// - Only SELECT, INSERT, UPDATE, DELETE, WITH and VALUES are prepared. BEGIN, COMMIT,
///   SAVEPOINT, SET and COPY gain nothing and are sent unnamed.
/// - A statement is recorded only once the server has answered its Parse: a failed or
///   skipped prepare leaves nothing behind, and a name is never used twice in a session.
/// - Prepared statements outlive transactions (a ROLLBACK keeps them), so the record is
///   not rolled back either.
/// - When the cache is full, further statements go unnamed (no eviction): the daemon's
///   statements are a fixed set well under the default capacity, and statements with
///   generated text (an admin's one-off query) should not push them out.
/// - A statement the server no longer knows (SQLSTATE 26000, e.g. after `DISCARD ALL`)
///   clears the record; one whose cached plan no longer fits its tables (0A000 "cached
///   plan must not change result type", after a migration) is forgotten. The request that
///   meets either fails once; its retry prepares afresh.
///
/// PgBouncer in transaction mode needs `max_prepared_statements` > 0 (PgBouncer 1.21 or
/// later) for named statements; with an older one set the capacity to 0.
struct StatementCache {
    struct Key: Hashable {
        var text: String
        var types: [Oid]
    }

    let capacity: Int
    private var names: [Key: String] = [:]
    private var issued = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { names.count }

    /// The statement's name when it is prepared on this session.
    func name(for key: Key) -> String? {
        names[key]
    }

    /// A fresh name under which to prepare `key`, or nil when it is not to be prepared.
    mutating func newName(for key: Key) -> String? {
        guard names.count < capacity, Self.isPreparable(key.text) else { return nil }
        issued += 1
        return "squad_s\(issued)"
    }

    /// Records that the server accepted the Parse of `key` under `name`.
    mutating func prepared(_ key: Key, as name: String) {
        names[key] = name
    }

    /// Forgets statements the server reported it no longer has, or can no longer run.
    mutating func forget(after error: PostgresError, key: Key) {
        switch error.sqlState {
        case "26000": names.removeAll()
        case "0A000": names[key] = nil
        default: break
        }
    }

    /// Whether the statement's first keyword is one worth preparing.
    static func isPreparable(_ text: String) -> Bool {
        var keyword: [UInt8] = []
        for byte in text.utf8 {
            if keyword.isEmpty, byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 40 { continue }
            let lower = byte | 0x20
            guard lower >= 97, lower <= 122, keyword.count < 6 else { break }
            keyword.append(lower)
        }
        switch String(decoding: keyword, as: UTF8.self) {
        case "select", "insert", "update", "delete", "with", "values": return true
        default: return false
        }
    }
}
