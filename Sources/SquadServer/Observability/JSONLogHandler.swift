import Foundation
import Logging
import SquadCore
import Synchronization

/// A swift-log handler writing one JSON object a line (`--log-format json`):
/// `{"ts":"2026-11-23T02:30:00.123Z","level":"info","label":"squadsync","message":"...",` then
/// the metadata keys (`request_id`, `athlete`, ...) and `source`.
///
/// Metadata whose key names a secret (token, password, secret, authorization, cookie) is
/// written as `"(hidden)"`: a careless call site cannot leak a credential through it.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// - Parameter write: receives each line with its newline; standard error by default.
    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let lock = Mutex(())

    /// Writes a whole line at once, so lines from several threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    static func isSecret(_ key: String) -> Bool {
        let key = key.lowercased()
        return ["token", "password", "secret", "authorization", "cookie"].contains { key.contains($0) }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var object: [String: JSONValue] = [
            "ts": .string(Self.timestamp(Date())),
            "level": .string(event.level.rawValue),
            "label": .string(label),
            "message": .string(event.message.description),
            "source": .string(event.source),
        ]
        for (key, value) in merged where object[key] == nil {
            object[key] = Self.isSecret(key) ? .string("(hidden)") : Self.json(value)
        }
        write(JSONValue.object(object).canonicalText + "\n")
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let value): return .string(value.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values): return .object(values.mapValues(json))
        }
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
