import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct DuplicatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "See and undo the links between activities recorded twice.",
        discussion: """
            When a watch and a phone record the same run, both entries are kept and linked
            into a group; everything downstream counts the group once, using its primary.
            """,
        subcommands: [List.self, Unlink.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List duplicate groups, optionally of one athlete.",
            discussion: "Example:\n  coach duplicates list ana --json")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Only this athlete's groups.") var handle: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let handle = self.handle
            let groups = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try DuplicateStore.list(handle: handle, on: $0) }
            }
            if json { try Output.json(groups); return }
            if groups.isEmpty { print("no duplicate groups"); return }
            Output.table(["GROUP", "ATHLETE", "PRIMARY", "MEMBERS", "REASON"], groups.map { group in
                [group.groupID.uuidString.lowercased(), group.athlete, group.primaryEntryID?.uuidString.lowercased() ?? "-",
                 group.members.map { $0.uuidString.lowercased() }.joined(separator: " "), group.reason]
            })
        }
    }

    struct Unlink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Separate a group's entries for good: each counts on its own again.",
            discussion: "Example:\n  coach duplicates unlink 5b1e0c2d-7c1e-4b7a-9a51-3f0c2d1e9b10")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The group id (from coach duplicates list).") var groupID: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            guard let id = UUID(uuidString: groupID) else { throw UsageError(message: "'\(groupID)' is not a group id (a UUID)") }
            let group = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try DuplicateStore.unlink(id, on: $0) }
            }
            if json { try Output.json(group) } else { print("unlinked \(group.members.count) entries of \(group.athlete)") }
        }
    }
}
