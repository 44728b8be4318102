import Foundation

/// Resolves settings in the order flag > environment > config file > default, and
/// names the key (flag and variable) in every error.
public struct ConfigurationReader: Sendable {
    public var flags: [String: String]
    public var environment: [String: String]
    /// Values from the config file, by environment variable name.
    public var file: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment, file: [String: String] = [:]) {
        self.flags = flags
        self.environment = environment
        self.file = file
    }

    /// A reader that also reads the config file named by `--config` or `SQUAD_CONFIG`.
    ///
    /// - Throws: `ConfigurationError` for a missing or unreadable file, a line that is not
    ///   `VARIABLE=value`, or a variable that is not a setting (a typo would otherwise be ignored).
    public static func load(flags: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConfigurationReader {
        var reader = ConfigurationReader(flags: flags, environment: environment)
        guard let path = reader.string(.configFile) else { return reader }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(setting: .configFile, message: "cannot read '\(path)': \((error as NSError).localizedDescription)")
        }
        reader.file = try parseFile(text, path: path)
        return reader
    }

    /// Parses `VARIABLE=value` lines: `#` comments, blank lines, an optional `export `
    /// and single or double quotes around the value, as systemd's `EnvironmentFile=` reads them.
    public static func parseFile(_ text: String, path: String) throws -> [String: String] {
        let known = Set(Setting.all.map(\.environment))
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(setting: .configFile, message: "\(path):\(index + 1): expected VARIABLE=value, found '\(line)'")
            }
            let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard known.contains(key) else {
                let suggestion = known.min { distance($0, key) < distance($1, key) }.map { " (did you mean \($0)?)" } ?? ""
                throw ConfigurationError(setting: .configFile, message: "\(path):\(index + 1): '\(key)' is not a setting\(suggestion); `coach config show` lists them")
            }
            if key == Setting.configFile.environment {
                throw ConfigurationError(setting: .configFile, message: "\(path):\(index + 1): a config file cannot name another config file")
            }
            values[key] = value
        }
        return values
    }

    /// The value of `setting`, or `nil` when no flag, variable or file line sets it.
    public func string(_ setting: Setting) -> String? {
        if let value = flags[setting.flag] { return value }
        if let value = environment[setting.environment], !value.isEmpty { return value }
        if let value = file[setting.environment], !value.isEmpty { return value }
        return nil
    }

    /// Where the effective value of `setting` comes from: flag, environment, file or default.
    public func source(_ setting: Setting) -> String {
        if flags[setting.flag] != nil { return "flag" }
        if let value = environment[setting.environment], !value.isEmpty { return "environment" }
        if let value = file[setting.environment], !value.isEmpty { return "file" }
        return "default"
    }

    /// An integer in `range`, `defaultValue` when unset.
    public func integer(_ setting: Setting, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(setting) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(setting: setting, message: "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Levenshtein distance, for "did you mean" in errors.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A setting with an unusable value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var setting: Setting
    public var message: String

    public init(setting: Setting, message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String {
        "invalid setting --\(setting.flag) / \(setting.environment): \(message)"
    }
}
