import Foundation
import Postgres

/// Finds the `Schema/` folder holding the numbered SQL migrations.
///
/// Order: `--schema-dir` / `SQUAD_SCHEMA_DIR`; `share/squadsync/schema` beside
/// an installed binary (`/usr/local/bin/coach` -> `/usr/local/share/squadsync/schema`);
/// a `Schema/` folder above the executable (a build inside the checkout); the
/// checkout this binary was compiled from.
public enum SchemaDirectory {
    public static func locate(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let explicit = explicit ?? environment["SQUAD_SCHEMA_DIR"], !explicit.isEmpty {
            let url = URL(fileURLWithPath: explicit)
            guard holdsMigrations(url) else {
                throw PostgresError(.migration, "the schema folder \(explicit) holds no NNNN_name.sql migrations")
            }
            return url
        }
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        candidates.append(folder.deletingLastPathComponent().appendingPathComponent("share/squadsync/schema"))
        for _ in 0..<6 {
            candidates.append(folder.appendingPathComponent("Schema"))
            folder = folder.deletingLastPathComponent()
        }
        // Sources/SquadServer/Database/SchemaDirectory.swift -> the checkout's Schema/.
        let checkout = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent("Schema"))
        if let found = candidates.first(where: holdsMigrations) { return found }
        throw PostgresError(
            .migration,
            "cannot find the Schema folder with the SQL migrations (looked in \(candidates.map(\.path).joined(separator: ", ")))",
            hint: "Pass --schema-dir or set SQUAD_SCHEMA_DIR.")
    }

    static func holdsMigrations(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent("0001_core.sql").path)
    }
}
