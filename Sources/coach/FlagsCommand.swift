import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct FlagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "List readiness and risk flags raised by the nightly run.",
        discussion: """
            A flag stays open until acknowledged or until its condition clears. Each carries
            the rule (with its version), the evidence, and how good the data behind it was.

            Examples:
              coach flags --open
              coach flags ana --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this athlete's flags.") var handle: String?
    @Flag(help: "Only open and acknowledged flags (not cleared).") var open = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (handle, open) = (self.handle, self.open)
        let flags = try await CommandContext.with(global) { context in
            try await context.pool.withConnection { try FlagStore.list(handle: handle, onlyOpen: open, on: $0) }
        }
        if json { try Output.json(flags); return }
        if flags.isEmpty { print(open ? "no open flags" : "no flags"); return }
        Output.table(["ID", "ATHLETE", "DATE", "SEVERITY", "CODE", "STATUS", "DATA"], flags.map { flag in
            [flag.id.uuidString.lowercased(), flag.athlete, flag.date.description, flag.severity, flag.code, flag.status, flag.dataQuality]
        })
    }
}
