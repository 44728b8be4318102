import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct SquadsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squads",
        abstract: "Create and list squads.",
        subcommands: [Create.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a squad.",
            discussion: "Names are unique, ignoring case.\nExample:\n  coach squads create \"Tuesday Club\"")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The squad's name.") var name: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let name = self.name
            let squad = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try SquadStore.create(name: name, on: $0) }
            }
            if json { try Output.json(squad) } else { print("created squad '\(squad.name)' (id \(squad.id))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List squads with their athlete counts.",
            discussion: "Example:\n  coach squads list --json")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let squads = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try SquadStore.list(on: $0) }
            }
            if json { try Output.json(squads); return }
            if squads.isEmpty { print("no squads yet: coach squads create NAME"); return }
            Output.table(["ID", "NAME", "ATHLETES", "CREATED"], squads.map { [String($0.id), $0.name, String($0.athleteCount), Output.date($0.createdAt)] })
        }
    }
}
