import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct CoachesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coaches",
        abstract: "Coaches who use the API (/v1/coach/...) with their own token.",
        discussion: """
            A coach sees and changes only the athletes of its squads. The token is printed
            once; only a lookup id and an HMAC-SHA256 of its secret are stored. Adding an existing coach to another squad issues
            a new token (the old one stops working).

            Examples:
              coach coaches add maria --squad "Tuesday Club" --name "Maria Silva"
              COACH_TOKEN=sqc_... curl -H "Authorization: Bearer $COACH_TOKEN" http://127.0.0.1:8080/v1/coach/digest
            """,
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a coach to a squad and print a new token once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The coach's name as a handle (lower-case, e.g. maria).") var name: String
        @Option(help: ArgumentHelp("The squad the coach manages.", valueName: "name")) var squad: String
        @Option(name: .customLong("name"), help: ArgumentHelp("Full name to show (default: the handle).", valueName: "text")) var fullName: String?
        @Flag(help: "Print JSON (with the token).") var json = false

        func run() async throws {
            let (handle, squad, fullName) = (name, self.squad, self.fullName)
            let (coach, token) = try await CommandContext.with(global) { context in
                let key = try context.configuration.tokenKey()
                return try await context.pool.withTransaction { try CoachStore.add(handle: handle, name: fullName, squad: squad, key: key, on: $0) }
            }
            if json {
                struct Added: Encodable { var coach: CoachStore.Coach; var token: String }
                try Output.json(Added(coach: coach, token: token))
                return
            }
            print("coach \(coach.handle) manages \(coach.squads.joined(separator: ", "))")
            print("token (shown once): \(token)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Coaches and their squads.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let coaches = try await CommandContext.with(global) { context in try await context.pool.withConnection { try CoachStore.list(on: $0) } }
            if json { try Output.json(coaches); return }
            if coaches.isEmpty { print("no coaches"); return }
            Output.table(["COACH", "NAME", "SQUADS", "TOKEN"], coaches.map { [$0.handle, $0.name, $0.squads.joined(separator: ", "), $0.revoked ? "revoked" : "active"] })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a coach's token: 403 from then on.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The coach.") var name: String

        func run() async throws {
            let handle = name
            try await CommandContext.with(global) { context in try await context.pool.withTransaction { try CoachStore.revoke(handle: handle, on: $0) } }
            print("revoked \(handle)")
        }
    }
}
