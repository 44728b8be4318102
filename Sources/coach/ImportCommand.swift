import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a phone's export (JSON array, NDJSON, or a folder of them) for an athlete.",
        discussion: """
            Items may be sync ops (as a device would push them) or bare entries (an envelope
            with "kind"). Everything goes through the same apply engine as a push, so importing
            the same file twice changes nothing. A bad line is reported with its line number
            and the rest is still imported. Exit code 1 when any item was invalid or rejected.

            Example:
              coach import ~/Downloads/ana-export.ndjson --athlete ana --device "Ana's phone"
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A .json/.ndjson/.jsonl file, or a folder of them.") var path: String
    @Option(help: "The athlete's handle.") var athlete: String
    @Option(help: "The athlete's device the items come from (default: a device named \"import\").") var device: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() async throws {
        let items = try Importer.read(path: path)
        let (handle, deviceName) = (athlete, device)
        let interactive = isatty(STDERR_FILENO) == 1
        let nowMillis = Int64(Date().timeIntervalSince1970 * 1000)
        let report = try await CommandContext.with(global) { context in
            try await Importer.apply(items, handle: handle, deviceName: deviceName, pool: context.pool, nowMillis: nowMillis) { done, total in
                if interactive { FileHandle.standardError.write(Data("\rimported \(done)/\(total)".utf8)) }
            }
        }
        if interactive && !items.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            try Output.json(report)
        } else {
            for problem in report.problems { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
            print("\(report.items) items: " + report.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        let failed = (report.statuses["invalid"] ?? 0) + (report.statuses["rejected"] ?? 0)
        if failed > 0 { throw ExitCode(1) }
    }
}
