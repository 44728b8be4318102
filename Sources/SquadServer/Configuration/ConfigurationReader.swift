import Foundation

/// Resolves settings in the order flag > environment > default, and names the
/// key (flag and variable) in every error.
public struct ConfigurationReader: Sendable {
    public var flags: [String: String]
    public var environment: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.flags = flags
        self.environment = environment
    }

    /// The value of `setting`, or `nil` when neither flag nor environment sets it.
    public func string(_ setting: Setting) -> String? {
        if let value = flags[setting.flag] { return value }
        if let value = environment[setting.environment], !value.isEmpty { return value }
        return nil
    }

    /// An integer in `range`, `defaultValue` when unset.
    public func integer(_ setting: Setting, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(setting) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(setting: setting, message: "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// A setting with an unusable value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var setting: Setting
    public var message: String

    public var description: String {
        "invalid setting --\(setting.flag) / \(setting.environment): \(message)"
    }
}
