import Postgres
import SquadCore

/// `Day` travels as a PostgreSQL `date` in ISO form (`YYYY-MM-DD`).
extension Day: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresType { .date }
    public var postgresText: String { description }

    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let day = Day(text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not an ISO date (is DateStyle ISO?)") }
        self = day
    }
}
