import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

extension Athlete.Sex: ExpressibleByArgument {}
extension Athlete.Level: ExpressibleByArgument {}

struct AthletesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "athletes",
        abstract: "Register, list and show athletes.",
        subcommands: [Add.self, List.self, Show.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an athlete in a squad.",
            discussion: """
                The handle names the athlete on the command line: lower-case letters, digits,
                '.', '_' and '-'. The time zone is an IANA name; the athlete's days are counted in it.

                Example:
                  coach athletes add ana --name "Ana Costa" --squad "Tuesday Club" --tz Europe/Lisbon \\
                      --sex female --birth-year 1988 --hr-max 186 --hr-rest 48 --level advanced
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Short unique handle, e.g. ana or j.smith.") var handle: String
        @Option(help: "Full name.") var name: String
        @Option(help: "The squad to join (it must exist).") var squad: String
        @Option(help: ArgumentHelp("IANA time zone, e.g. Europe/Lisbon.", valueName: "zone")) var tz: String
        @Option(help: "female, male or other.") var sex: Athlete.Sex?
        @Option(name: .customLong("birth-year"), help: "Year of birth.") var birthYear: Int?
        @Option(name: .customLong("hr-max"), help: "Maximum heart rate, bpm.") var hrMax: Int?
        @Option(name: .customLong("hr-rest"), help: "Resting heart rate, bpm.") var hrRest: Int?
        @Option(help: "beginner, intermediate, advanced or elite.") var level: Athlete.Level = .intermediate
        @Flag(help: "Print JSON instead of text.") var json = false

        func validate() throws {
            let year = Calendar(identifier: .gregorian).component(.year, from: Date())
            let problems = newAthlete.problems(currentYear: year)
            if !problems.isEmpty {
                throw ValidationError(problems.map { "--\($0.field): \($0.message)" }.joined(separator: "\n"))
            }
        }

        var newAthlete: NewAthlete {
            NewAthlete(handle: handle, name: name, squad: squad, timeZone: tz, sex: sex, birthYear: birthYear, hrMax: hrMax, hrRest: hrRest, level: level)
        }

        func run() async throws {
            let newAthlete = self.newAthlete
            let year = Calendar(identifier: .gregorian).component(.year, from: Date())
            let athlete = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try AthleteStore.add(newAthlete, currentYear: year, on: $0) }
            }
            if json { try Output.json(athlete) } else { print("added \(athlete.handle) (\(athlete.name)) to \(athlete.squads.joined(separator: ", "))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List athletes, optionally of one squad.",
            discussion: "Example:\n  coach athletes list --squad \"Tuesday Club\" --json")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this squad's athletes.") var squad: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let squad = self.squad
            let athletes = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try AthleteStore.list(squad: squad, on: $0) }
            }
            if json { try Output.json(athletes); return }
            if athletes.isEmpty { print("no athletes yet: coach athletes add HANDLE --name ... --squad ... --tz ..."); return }
            Output.table(["HANDLE", "NAME", "SQUADS", "TZ", "LEVEL"], athletes.map {
                [$0.handle, $0.name, $0.squads.joined(separator: ", "), $0.timeZone, $0.level.rawValue]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one athlete.",
            discussion: "Example:\n  coach athletes show ana")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let handle = self.handle
            let found = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try AthleteStore.find(handle: handle, on: $0) }
            }
            guard let athlete = found else { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
            if json { try Output.json(athlete); return }
            func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }
            print("""
                handle:      \(athlete.handle)
                name:        \(athlete.name)
                squads:      \(athlete.squads.joined(separator: ", "))
                time zone:   \(athlete.timeZone)
                sex:         \(athlete.sex?.rawValue ?? "-")
                birth year:  \(text(athlete.birthYear))
                HR max/rest: \(text(athlete.hrMax)) / \(text(athlete.hrRest)) bpm
                level:       \(athlete.level.rawValue)
                registered:  \(Output.date(athlete.createdAt))
                """)
        }
    }
}
