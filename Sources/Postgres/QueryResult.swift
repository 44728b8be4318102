/// The rows of one statement, copied out of libpq so no C memory outlives the call.
public struct QueryResult: Sendable, RandomAccessCollection {
    /// Column names in order.
    public let columns: [String]
    /// Column type OIDs in order.
    public let columnTypes: [PostgresType]
    /// Row-major cells; `nil` is SQL NULL.
    let cells: [String?]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY, or returned by SELECT.
    public let affectedRows: Int

    init(columns: [String], columnTypes: [PostgresType], cells: [String?], affectedRows: Int) {
        self.columns = columns
        self.columnTypes = columnTypes
        self.cells = cells
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }
    public subscript(position: Int) -> Row { Row(result: self, index: position) }

    /// The index of a column by name.
    func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }
}

/// One row of a `QueryResult`; decode cells by position or column name.
public struct Row: Sendable {
    let result: QueryResult
    let index: Int

    /// The raw text of a cell, `nil` for NULL.
    public func text(at column: Int) -> String? {
        result.cells[index * result.columns.count + column]
    }

    /// Decodes the cell at `column` (0-based).
    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, at column: Int) throws -> Value {
        guard column >= 0, column < result.columns.count else {
            throw PostgresError(.decoding, "column index \(column) is out of range: the row has \(result.columns.count) columns")
        }
        let name = result.columns[column]
        guard let text = text(at: column) else {
            guard let null = Value.postgresNull else {
                throw PostgresError(.decoding, "column \"\(name)\" is NULL; decode it as \(Value.self)?")
            }
            return null
        }
        do {
            return try Value(postgresText: text, type: result.columnTypes[column])
        } catch {
            throw PostgresError(.decoding, "column \"\(name)\" (\(result.columnTypes[column])) cannot be decoded as \(Value.self): \(error.reason)")
        }
    }

    /// Decodes the cell of the named column.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, column name: String) throws -> Value {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(.decoding, "no column \"\(name)\" in the result (columns: \(result.columns.joined(separator: ", ")))")
        }
        return try decode(type, at: column)
    }

    /// Decodes the leading columns as a tuple: `let (id, name) = try row.decode((Int, String).self)`.
    public func decode<each Value: PostgresDecodable>(_ types: (repeat each Value).Type) throws -> (repeat each Value) {
        var column = 0
        func next<Next: PostgresDecodable>(_ type: Next.Type) throws -> Next {
            defer { column += 1 }
            return try decode(type, at: column)
        }
        return (repeat try next((each Value).self))
    }
}
