import Foundation

/// A statement whose interpolated values become `$n` parameters.
///
/// ```swift
/// let rows = try conn.query("SELECT id FROM athletes WHERE handle = \(handle)")
/// ```
/// Every `\(value)` is bound, never spliced into the text. Identifiers go
/// through `\(identifier: name)` (quoted with `PQescapeIdentifier` when the
/// statement runs), trusted fragments through `\(raw: text)`, and an `SQL`
/// value interpolated into another keeps its own parameters.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Part: Sendable {
        case text(String)
        case parameter(Int)
        case identifier(String)
    }

    var parts: [Part]
    public private(set) var parameters: [PostgresValue]

    public init(stringLiteral value: String) {
        parts = [.text(value)]
        parameters = []
    }

    public init(stringInterpolation: StringInterpolation) {
        parts = stringInterpolation.parts
        parameters = stringInterpolation.parameters
    }

    /// A trusted statement text with no parameters (for example, one read from a migration file).
    public init(unsafeText text: String) {
        parts = [.text(text)]
        parameters = []
    }

    /// The text with placeholders and identifiers quoted naively, for logs and errors.
    public var description: String {
        render { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    }

    /// The statement text with `$n` placeholders, identifiers quoted by `quote`.
    func render(quotingIdentifiersWith quote: (String) -> String) -> String {
        var text = ""
        for part in parts {
            switch part {
            case .text(let literal): text += literal
            case .parameter(let index): text += "$\(index + 1)"
            case .identifier(let name): text += quote(name)
            }
        }
        return text
    }

    /// Appends another fragment, renumbering its parameters.
    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var result = lhs
        result.append(rhs)
        return result
    }

    mutating func append(_ other: SQL) {
        let offset = parameters.count
        for part in other.parts {
            if case .parameter(let index) = part {
                parts.append(.parameter(index + offset))
            } else {
                parts.append(part)
            }
        }
        parameters.append(contentsOf: other.parameters)
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var parts: [Part] = []
        var parameters: [PostgresValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            parts.reserveCapacity(interpolationCount * 2 + 1)
            parameters.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            parts.append(.text(literal))
        }

        /// Binds a value as the next parameter.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            parts.append(.parameter(parameters.count))
            parameters.append(value.postgresParameter)
        }

        /// Binds an optional value; `nil` is NULL of the wrapped type.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            parts.append(.parameter(parameters.count))
            parameters.append(value.postgresParameter)
        }

        /// Binds an already encoded value.
        public mutating func appendInterpolation(value: PostgresValue) {
            parts.append(.parameter(parameters.count))
            parameters.append(value)
        }

        /// Quotes a table or column name.
        public mutating func appendInterpolation(identifier: String) {
            parts.append(.identifier(identifier))
        }

        /// Splices trusted SQL text; never pass user input.
        public mutating func appendInterpolation(raw: String) {
            parts.append(.text(raw))
        }

        /// Embeds another statement fragment with its parameters.
        public mutating func appendInterpolation(_ fragment: SQL) {
            var combined = SQL(unsafeText: "")
            combined.parts = parts
            combined.parameters = parameters
            combined.append(fragment)
            parts = combined.parts
            parameters = combined.parameters
        }
    }
}
