import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "See and settle the edits sync kept aside when two devices disagreed.",
        discussion: """
            When two devices edit the same free text, or one deletes what another edits, the
            winner (by clock) stands and the loser is kept as a conflict record. Settle one by
            keeping the standing value (kept) or the losing one (other); devices pull the result.

            Examples:
              coach conflicts ana
              coach conflicts resolve 5b1e0c2d-7c1e-4b7a-9a51-3f0c2d1e9b10 --keep other
            """,
        subcommands: [List.self, Resolve.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open conflicts, optionally one athlete's.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Only this athlete's conflicts.") var handle: String?
        @Flag(help: "Also resolved and superseded ones.") var all = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (handle, all) = (self.handle, self.all)
            let conflicts: [ConflictService.Conflict]
            if let api = try remote.api() {
                conflicts = try await api.get(CoachAPI.path("/v1/coach/conflicts", [("athlete", handle), ("all", all ? "true" : nil)]))
            } else {
                conflicts = try await CommandContext.with(global) { context in
                    try await context.pool.withConnection { try ConflictService.list(handle: handle, includeClosed: all, on: $0) }
                }
            }
            if json { try Output.json(conflicts); return }
            if conflicts.isEmpty { print(all ? "no conflicts" : "no open conflicts"); return }
            Output.table(["ID", "ATHLETE", "FIELD", "STATUS", "KEPT", "OTHER"], conflicts.map { conflict in
                [conflict.id.uuidString.lowercased(), conflict.athlete, conflict.field, conflict.status,
                 String(conflict.kept.canonicalText.prefix(40)), String(conflict.other.canonicalText.prefix(40))]
            })
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Settle a conflict: keep the standing value or the other one.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The conflict id (from coach conflicts).") var conflictID: String
        @Option(help: ArgumentHelp("kept (the standing value) or other (the losing one).", valueName: "side")) var keep: String
        @Option(help: ArgumentHelp("Who resolves (default: $USER).", valueName: "name")) var coach: String?

        func run() async throws {
            guard let id = UUID(uuidString: conflictID) else { throw UsageError(message: "'\(conflictID)' is not a conflict id (a UUID)") }
            guard keep == "kept" || keep == "other" else { throw UsageError(message: "--keep must be kept or other") }
            let keep = self.keep
            let coach = self.coach ?? ProcessInfo.processInfo.environment["USER"] ?? "coach"
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let conflict: ConflictService.Conflict
            if let api = try remote.api() {
                conflict = try await api.post("/v1/coach/conflicts/\(id.uuidString.lowercased())/resolve", body: .object(["keep": .string(keep)]))
            } else {
                conflict = try await CommandContext.with(global) { context in
                    try await context.pool.withTransaction { try ConflictService.resolve(id, keep: keep, coach: coach, nowMillis: now, on: $0) }
                }
            }
            print("resolved \(conflict.field) of \(conflict.athlete)'s entry \(conflict.entryID.uuidString.lowercased()): kept \(keep == "kept" ? "the standing value" : "the other value")")
        }
    }
}
