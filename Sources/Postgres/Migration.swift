import Foundation

/// One forward-only schema change: a numbered SQL file such as `0001_core.sql`.
public struct Migration: Sendable, Equatable {
    /// The file name without `.sql`, e.g. `0001_core`; recorded in `schema_migrations`.
    public var name: String
    /// The number the file name starts with; migrations apply in this order.
    public var number: Int
    /// The script, run as one transaction.
    public var sql: String

    public init(name: String, number: Int, sql: String) {
        self.name = name
        self.number = number
        self.sql = sql
    }

    /// Reads `NNNN_name.sql` files from `directory`, in order.
    ///
    /// Other files (API and log schemas live beside them) are ignored; two files
    /// with the same number are refused.
    public static func load(from directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PostgresError(.migration, "cannot read the migrations folder \(directory.path): \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for file in names where file.hasSuffix(".sql") {
            let name = String(file.dropLast(4))
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard digits.count == 4, name.dropFirst(4).first == "_", let number = Int(digits) else { continue }
            let url = directory.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw PostgresError(.migration, "cannot read migration \(url.path)")
            }
            guard let sql = String(data: data, encoding: .utf8) else {
                throw PostgresError(.migration, "migration \(file) is not valid UTF-8")
            }
            migrations.append(Migration(name: name, number: number, sql: sql))
        }
        migrations.sort { $0.number < $1.number }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.number == next.number {
            throw PostgresError(.migration, "migrations \(previous.name) and \(next.name) share the number \(next.number)")
        }
        return migrations
    }
}
