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
        abstract: "Register, list and show athletes; export, import and erase their data.",
        subcommands: [Add.self, List.self, Show.self, Export.self, Import.self, Erase.self]
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

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write all of an athlete's data to a JSON file (their right of access and portability).",
            discussion: """
                Every entry (with deleted ones), conflict, duplicate link, plan with its weeks,
                sessions and revisions, flag, daily metric, digest and audit row, plus the athlete,
                their squads and devices (never token hashes). `coach athletes import` reads it
                back. Health data: keep the file private. Recorded in the audit trail.

                Examples:
                  coach athletes export ana --out ana.json
                  coach athletes export ana --out - | jq '.tables.entries | length'
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Option(help: ArgumentHelp("File to write; - for standard output.", valueName: "file")) var out: String
        @Option(help: ArgumentHelp("Who asks, for the audit trail. Default: $USER.", valueName: "name")) var actor: String?

        func run() async throws {
            let (handle, actor) = (self.handle, self.actor ?? ProcessInfo.processInfo.environment["USER"] ?? "admin")
            let text = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try AthleteDataRights.export(handle: handle, actor: actor, on: $0) }
            }
            if out == "-" {
                FileHandle.standardOutput.write(Data(text.utf8))
                return
            }
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: [.atomic])
                _ = try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out)
            } catch {
                throw AdminError(.invalid, "cannot write '\(out)': \((error as NSError).localizedDescription)")
            }
            FileHandle.standardError.write(Data("exported \(handle) to \(out) (\(text.utf8.count) bytes, mode 0600)\n".utf8))
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an athlete from a file of `coach athletes export`.",
            discussion: """
                Everything is inserted in one transaction: on any error nothing is kept, and the
                error names the table. Devices are not imported (their tokens cannot be): enroll
                them again. Recorded in the audit trail.

                Example:
                  coach athletes import ana.json --handle ana --squad "Tuesday Club"
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The export file; - for standard input.") var file: String
        @Option(help: ArgumentHelp("Handle for the new athlete. Default: the exported one.", valueName: "handle")) var handle: String?
        @Option(help: ArgumentHelp("Squad to put them in. Default: the exported squads' first.", valueName: "name")) var squad: String?
        @Option(help: ArgumentHelp("Who imports, for the audit trail. Default: $USER.", valueName: "name")) var actor: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let data: Data
            do {
                data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw AdminError(.invalid, "cannot read '\(file)': \((error as NSError).localizedDescription)")
            }
            let text = String(decoding: data, as: UTF8.self)
            let (handle, squad, actor) = (self.handle, self.squad, self.actor ?? ProcessInfo.processInfo.environment["USER"] ?? "admin")
            let report = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try AthleteDataRights.importAthlete(text, handle: handle, squad: squad, actor: actor, on: $0) }
            }
            if json { try Output.json(report); return }
            let total = report.rows.values.reduce(0, +)
            print("imported \(report.handle): \(total) rows (" + report.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase an athlete's data (their right to erasure). Cannot be undone.",
            discussion: """
                Deletes their plans, flags, metrics, digests, conflicts and duplicate links, and
                turns every entry into an id-only tombstone with a new place in the sync feed, so
                their devices remove it on the next pull (their pushes are then refused, 410
                athlete_erased). The athlete row keeps only an id (handle erased-<id>); the audit
                trail keeps actor, action and time with the handle replaced. Export first if the
                athlete wants a copy.

                Example:
                  coach athletes export ana --out ana.json && coach athletes erase ana --yes
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Flag(help: "Confirm: without it nothing is erased.") var yes = false
        @Option(help: ArgumentHelp("Who erases, for the audit trail. Default: $USER.", valueName: "name")) var actor: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            guard yes else {
                throw ValidationError("erasing \(handle)'s data cannot be undone: add --yes to confirm (export first with coach athletes export)")
            }
            let (handle, actor) = (self.handle, self.actor ?? ProcessInfo.processInfo.environment["USER"] ?? "admin")
            let report = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try AthleteDataRights.erase(handle: handle, actor: actor, on: $0) }
            }
            if json { try Output.json(report); return }
            let deleted = report.rowsDeleted.values.reduce(0, +)
            print("erased \(handle): now \(report.pseudonym); \(report.tombstones) entries left as id-only tombstones, \(deleted) other rows deleted or pseudonymized")
        }
    }
}
