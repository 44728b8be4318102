import ArgumentParser
import Foundation
import Postgres
import SquadServer

/// Runs `coach` and maps failures to the documented exit codes:
/// 0 success, 1 runtime failure, 2 usage error.
@main
enum Main {
    static func main() async {
        do {
            var command = try Coach.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(for: error)
        }
    }

    static func exit(for error: any Error) -> Never {
        switch error {
        case let error as ExitCode:
            Foundation.exit(error.rawValue)
        case let error as ConfigurationError:
            printError(error.description)
            Foundation.exit(2)
        case let error as UsageError:
            printError(error.message)
            Foundation.exit(2)
        case let error as PostgresError:
            printError(error.description)
            Foundation.exit(1)
        case let error as AdminError:
            printError(error.message)
            Foundation.exit(1)
        case let error as Serve.StartError:
            printError(error.description)
            Foundation.exit(1)
        default:
            let code = Coach.exitCode(for: error)
            if code == .success {
                print(Coach.fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = Coach.fullMessage(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
            printError(message)
            Foundation.exit(code == .failure ? 1 : code.rawValue)
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }
}

/// A mistake in how a command was called, found after parsing (exit code 2).
struct UsageError: Error {
    var message: String
}
