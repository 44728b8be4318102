internal import CLibPQ

/// Streams rows into a `COPY ... FROM STDIN` in text format.
///
/// Rows are buffered and sent in chunks of about 256 KiB. A value with a NUL
/// byte throws before anything of its row is sent.
public struct CopyWriter: ~Copyable {
    let connection: Connection
    var buffer: [UInt8] = []
    /// Rows appended so far.
    public private(set) var rowCount = 0
    private static let flushThreshold = 256 * 1024

    init(connection: Connection) {
        self.connection = connection
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    /// Appends one row; pass the values in the column order of the COPY.
    public mutating func append<each Value: PostgresEncodable>(_ value: repeat each Value) throws {
        var row: [UInt8] = []
        var first = true
        for field in repeat each value {
            if !first { row.append(9) }
            first = false
            try Self.appendField(field.postgresValue, to: &row)
        }
        row.append(10)
        buffer.append(contentsOf: row)
        rowCount += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Appends one row of already encoded values.
    public mutating func append(values: [PostgresValue]) throws {
        var row: [UInt8] = []
        for (index, value) in values.enumerated() {
            if index > 0 { row.append(9) }
            try Self.appendField(value, to: &row)
        }
        row.append(10)
        buffer.append(contentsOf: row)
        rowCount += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private static func appendField(_ value: PostgresValue, to row: inout [UInt8]) throws {
        guard let text = value.text else {
            row.append(contentsOf: [92, 78])  // \N
            return
        }
        if let problem = value.encodingError { throw PostgresError(.encoding, "a COPY field \(problem)") }
        let utf8 = text.utf8
        // Most fields (ids, numbers, JSON documents) need no escaping: copy them whole.
        if !utf8.contains(where: { $0 == 92 || $0 == 10 || $0 == 13 || $0 == 9 }) {
            row.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case 92: row.append(contentsOf: [92, 92])
            case 10: row.append(contentsOf: [92, 110])
            case 13: row.append(contentsOf: [92, 114])
            case 9: row.append(contentsOf: [92, 116])
            default: row.append(byte)
            }
        }
    }
}

extension Connection {
    /// Runs `COPY table (columns) FROM STDIN` and feeds it the rows `body` appends.
    ///
    /// - Returns: the number of rows the server loaded.
    /// - Throws: the server's error (the COPY is then void), or `body`'s error
    ///   after aborting the COPY so the connection stays usable.
    @discardableResult
    public func copy(into table: String, columns: [String], _ body: (inout CopyWriter) throws -> Void) throws -> Int {
        let columnList = columns.map(escapeIdentifier).joined(separator: ", ")
        let statement = "COPY \(escapeIdentifier(table)) (\(columnList)) FROM STDIN"
        try sendDeferred()
        let started = try run(SQL(unsafeText: statement))
        PQclear(started)
        var writer = CopyWriter(connection: self)
        do {
            try body(&writer)
            try writer.flush()
        } catch {
            _ = try? endCopy(abort: "aborted by the client: \(error)", sql: statement)
            throw error
        }
        return try endCopy(abort: nil, sql: statement)
    }
}
