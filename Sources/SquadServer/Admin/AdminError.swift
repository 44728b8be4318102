/// A coach-facing failure of an admin command, with a stable code.
public struct AdminError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalid
        case notFound = "not_found"
        case conflict
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
