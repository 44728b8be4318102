import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Show and override the thresholds of flags and plan rules.",
        discussion: """
            Every threshold has a default from a rule pack: `seeds` (DOMAIN.md's defaults) or
            `evidence` (research: spike at +30% over two weeks, Nielsen 2014; taper -50%,
            Bosquet 2007). A squad picks its pack; squads and athletes override single keys.
            """,
        subcommands: [Show.self, Set.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the rules in force, with where each value comes from.",
            discussion: "Examples:\n  coach rules show\n  coach rules show ana\n  coach rules show --squad \"Tuesday Club\" --json")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "An athlete's handle (default: the seeds pack).") var handle: String?
        @Option(help: ArgumentHelp("A squad's rules instead.", valueName: "name")) var squad: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (handle, squad) = (self.handle, self.squad)
            let rules = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { connection -> RuleSet in
                    if let handle { return try RuleStore.effective(athleteID: RuleStore.athlete(handle, on: connection).id, on: connection) }
                    if let squad { return try RuleStore.effective(squad: squad, on: connection) }
                    return RuleSet()
                }
            }
            if json {
                struct Item: Encodable { var key: String; var value: Double; var source: String; var help: String }
                struct Rules: Encodable { var pack: String; var rules: [Item] }
                try Output.json(Rules(pack: rules.pack.rawValue, rules: RuleSet.parameters.map {
                    Item(key: $0.key, value: rules[$0.key], source: rules.sources[$0.key]?.rawValue ?? "pack", help: $0.help)
                }))
                return
            }
            print("pack: \(rules.pack.rawValue)")
            Output.table(["KEY", "VALUE", "FROM", "MEANING"], RuleSet.parameters.map { parameter in
                let value = rules[parameter.key]
                return [parameter.key, value == value.rounded() ? String(Int(value)) : String(value),
                        rules.sources[parameter.key]?.rawValue ?? "pack", parameter.help]
            })
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Override thresholds for an athlete or a squad (VALUE `default` removes one).",
            discussion: """
                Examples:
                  coach rules set ana rhr_elevated.pct=8 short_sleep.hours=7.5
                  coach rules set --squad "Masters" pack=evidence volume_cap.pct=8
                  coach rules set ana rhr_elevated.pct=default
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle, then KEY=VALUE pairs (or only pairs with --squad).") var arguments: [String]
        @Option(help: ArgumentHelp("Set the squad's rules instead of an athlete's.", valueName: "name")) var squad: String?

        func run() async throws {
            var items = arguments
            let scope: RuleStore.Scope
            if let squad {
                scope = .squad(squad)
            } else {
                guard let first = items.first, !first.contains("=") else { throw UsageError(message: "name an athlete (coach rules set HANDLE KEY=VALUE) or use --squad NAME") }
                scope = .athlete(first)
                items.removeFirst()
            }
            guard !items.isEmpty else { throw UsageError(message: "give at least one KEY=VALUE, e.g. rhr_elevated.pct=8") }
            let assignments = try items.map { item -> (key: String, value: String) in
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw UsageError(message: "'\(item)' is not KEY=VALUE") }
                return (parts[0], parts[1])
            }
            try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try RuleStore.set(assignments, scope: scope, on: $0) }
            }
            print("set \(assignments.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
