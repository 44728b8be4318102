import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Named places in the push path where the crash soak (`./Deploy/dev soak`, `CrashSoakTests`)
/// kills the daemon with SIGKILL, to prove that a crash at any of them loses nothing
/// acknowledged and applies nothing twice. Off unless `--fault-injection` /
/// `SQUAD_FAULT_INJECTION` is set (for tests only: it crashes the server on purpose).
///
/// The setting is `point=probability,...`, e.g. `push.in_tx=0.02,push.after_commit=0.02`.
public struct FaultPoints: Sendable {
    public enum Point: String, Sendable, CaseIterable {
        /// The push is parsed and authenticated; no transaction yet.
        case pushBeforeTransaction = "push.before_tx"
        /// Every op is applied inside the transaction; COMMIT not sent yet.
        case pushInTransaction = "push.in_tx"
        /// COMMIT returned; the response is not sent yet.
        case pushAfterCommit = "push.after_commit"
    }

    let probabilities: [Point: Double]

    public static let none = FaultPoints(probabilities: [:])

    public init(probabilities: [Point: Double]) {
        self.probabilities = probabilities
    }

    /// Parses `point=probability,...`; throws `ConfigurationError` naming the setting.
    public static func parse(_ text: String) throws -> FaultPoints {
        var probabilities: [Point: Double] = [:]
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let point = Point(rawValue: pair[0]), let probability = Double(pair[1]), (0...1).contains(probability) else {
                throw ConfigurationError(setting: .faultInjection, message: "'\(part)' is not point=probability with a point among \(Point.allCases.map(\.rawValue).joined(separator: ", ")) and a probability from 0 to 1")
            }
            probabilities[point] = probability
        }
        return FaultPoints(probabilities: probabilities)
    }

    public var isEmpty: Bool { probabilities.isEmpty }

    /// Dies here with SIGKILL, with the configured probability: no cleanup, no response.
    public func maybeCrash(at point: Point) {
        guard let probability = probabilities[point], Double.random(in: 0..<1) < probability else { return }
        kill(getpid(), SIGKILL)
    }
}
