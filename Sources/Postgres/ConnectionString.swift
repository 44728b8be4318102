internal import CLibPQ
import Foundation

/// Reads and rewrites libpq connection strings without connecting.
public enum ConnectionString {
    /// The same target with another database name, as a key-value conninfo string.
    public static func replacingDatabase(in conninfo: String, with database: String) throws -> String {
        var options = try parse(conninfo)
        options["dbname"] = database
        return options.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(quote($0.value))" }
            .joined(separator: " ")
    }

    /// The keywords a URL or conninfo sets, with their values.
    public static func parse(_ conninfo: String) throws -> [String: String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(.invalidConnectionString, "invalid database URL or conninfo: \(reason.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        defer { PQconninfoFree(options) }
        var result: [String: String] = [:]
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                result[String(cString: keyword)] = String(cString: value)
            }
            cursor += 1
        }
        return result
    }

    /// The target without secrets, for logs: `host=/run port=5432 dbname=squad user=coach`.
    public static func redacted(_ conninfo: String) -> String {
        guard let options = try? parse(conninfo) else { return "(unparsable connection string)" }
        return ["host", "hostaddr", "port", "dbname", "user"].compactMap { key in
            options[key].map { "\(key)=\($0)" }
        }.joined(separator: " ")
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
