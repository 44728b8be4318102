import ArgumentParser
import Foundation
import SquadServer

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective configuration (flag > environment > config file > default), secrets masked.",
        subcommands: [Show.self],
        defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every setting with its value, where it can be set, and its default.",
            discussion: "Example:\n  SQUAD_PORT=9090 coach config show --json")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let configuration = try global.configuration(defaultLogLevel: "info")
            let rows = configuration.describe()
            if json {
                struct Item: Encodable { var setting: String; var environment: String; var value: String; var source: String; var defaultValue: String?; var secret: Bool
                    enum CodingKeys: String, CodingKey { case setting, environment, value, source, defaultValue = "default", secret } }
                try Output.json(rows.map {
                    Item(setting: $0.0.flag, environment: $0.0.environment, value: $0.1, source: configuration.sources[$0.0] ?? "default",
                         defaultValue: $0.0.defaultDescription, secret: $0.0.isSecret)
                })
                return
            }
            Output.table(["SETTING", "ENVIRONMENT", "VALUE", "FROM", "DEFAULT"], rows.map {
                ["--\($0.0.flag)", $0.0.environment, $0.1, configuration.sources[$0.0] ?? "default", $0.0.defaultDescription ?? "-"]
            })
        }
    }
}
