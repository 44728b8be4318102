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
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "Only this athlete's flags.") var handle: String?
    @Flag(help: "Only open and acknowledged flags (not cleared).") var open = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (handle, open) = (self.handle, self.open)
        let flags: [FlagStore.Flag]
        if let api = try remote.api() {
            flags = try await api.get(CoachAPI.path("/v1/coach/flags", [("athlete", handle), ("open", open ? "true" : nil)]))
        } else {
            flags = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try FlagStore.list(handle: handle, onlyOpen: open, on: $0) }
            }
        }
        if json { try Output.json(flags); return }
        if flags.isEmpty { print(open ? "no open flags" : "no flags"); return }
        Output.table(["ID", "ATHLETE", "DATE", "SEVERITY", "CODE", "STATUS", "DATA"], flags.map { flag in
            [flag.id.uuidString.lowercased(), flag.athlete, flag.date.description, flag.severity, flag.code, flag.status, flag.dataQuality]
        })
    }
}

struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge a flag: seen by the coach, kept until its condition clears.",
        discussion: "Example:\n  coach ack 5b1e0c2d-7c1e-4b7a-9a51-3f0c2d1e9b10 --note \"called her, easy week\"")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "The flag id (from coach flags).") var flagID: String
    @Option(help: ArgumentHelp("A note kept with the acknowledgement.", valueName: "text")) var note: String?
    @Option(help: ArgumentHelp("Who acknowledges (default: $USER).", valueName: "name")) var coach: String?

    func run() async throws {
        guard let id = UUID(uuidString: flagID) else { throw UsageError(message: "'\(flagID)' is not a flag id (a UUID)") }
        let note = self.note
        let coach = self.coach ?? ProcessInfo.processInfo.environment["USER"] ?? "coach"
        let flag: FlagStore.Flag
        if let api = try remote.api() {
            flag = try await api.post("/v1/coach/flags/\(id.uuidString.lowercased())/ack", body: .object(note.map { ["note": .string($0)] } ?? [:]))
        } else {
            flag = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try FlagStore.acknowledge(id, by: coach, note: note, on: $0) }
            }
        }
        print("acknowledged \(flag.code) (\(flag.severity)) of \(flag.athlete) from \(flag.date)")
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Who acknowledged, overrode or resolved what, and when (newest first).",
        discussion: "Examples:\n  coach audit\n  coach audit ana --json")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "Only this athlete's entries.") var handle: String?
    @Option(help: ArgumentHelp("How many entries.", valueName: "n")) var limit = 200
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (handle, limit) = (self.handle, self.limit)
        let entries: [AuditStore.Entry]
        if let api = try remote.api() {
            entries = Array(try await api.get(CoachAPI.path("/v1/coach/audit", [("athlete", handle)]), as: [AuditStore.Entry].self).prefix(limit))
        } else {
            entries = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try AuditStore.list(handle: handle, limit: limit, on: $0) }
            }
        }
        if json { try Output.json(entries); return }
        if entries.isEmpty { print("no audit entries"); return }
        Output.table(["WHEN", "WHO", "ATHLETE", "ACTION", "SUBJECT", "BEFORE -> AFTER", "NOTE"], entries.map { entry in
            [Output.date(entry.at), entry.actor, entry.athlete ?? "-", entry.action, entry.subject,
             "\(entry.before?.canonicalText ?? "-") -> \(entry.after?.canonicalText ?? "-")", entry.note ?? ""]
        })
    }
}
