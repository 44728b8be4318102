import Foundation
import Postgres
import SquadCore

/// All SQL for athletes and their squad memberships.
public enum AthleteStore {
    /// Registers an athlete in a squad. Call inside a transaction.
    public static func add(_ athlete: NewAthlete, currentYear: Int, on connection: Connection) throws -> Athlete {
        let problems = athlete.problems(currentYear: currentYear)
        guard problems.isEmpty else {
            throw AdminError(.invalid, problems.map(\.description).joined(separator: "; "))
        }
        let squadID = try SquadStore.id(named: athlete.squad, on: connection)
        let id: Int64
        do {
            let rows = try connection.query("""
                INSERT INTO athletes (handle, name, time_zone, sex, birth_year, hr_max, hr_rest, level)
                VALUES (\(athlete.handle), \(athlete.name.trimmingCharacters(in: .whitespacesAndNewlines)), \(athlete.timeZone),
                        \(athlete.sex?.rawValue), \(athlete.birthYear), \(athlete.hrMax), \(athlete.hrRest), \(athlete.level.rawValue))
                RETURNING id
                """)
            id = try rows[0].decode(Int64.self, at: 0)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw AdminError(.conflict, "an athlete with handle '\(athlete.handle)' already exists")
        }
        try connection.execute("INSERT INTO athlete_squads (athlete_id, squad_id) VALUES (\(id), \(squadID))")
        guard let stored = try find(handle: athlete.handle, on: connection) else {
            throw AdminError(.notFound, "athlete '\(athlete.handle)' vanished while being added")
        }
        return stored
    }

    /// Athletes in handle order, optionally only one squad's.
    public static func list(squad: String? = nil, on connection: Connection) throws -> [Athlete] {
        var filter: SQL = ""
        if let squad {
            let squadID = try SquadStore.id(named: squad, on: connection)
            filter = "WHERE a.id IN (SELECT athlete_id FROM athlete_squads WHERE squad_id = \(squadID))"
        }
        return try connection.query("\(selectAthletes) \(filter) ORDER BY a.handle").map(decode)
    }

    public static func find(handle: String, on connection: Connection) throws -> Athlete? {
        try connection.query("\(selectAthletes) WHERE a.handle = \(handle)").first.map(decode)
    }

    private static let selectAthletes: SQL = """
        SELECT a.id, a.handle, a.name, a.time_zone, a.sex, a.birth_year, a.hr_max, a.hr_rest, a.level,
               coalesce((SELECT array_agg(s.name ORDER BY s.name) FROM athlete_squads m
                         JOIN squads s ON s.id = m.squad_id WHERE m.athlete_id = a.id), '{}') AS squads,
               a.created_at
        FROM athletes a
        """

    private static func decode(_ row: Row) throws -> Athlete {
        let (id, handle, name, timeZone, sex, birthYear, hrMax, hrRest, level, squads, createdAt) =
            try row.decode((Int64, String, String, String, String?, Int?, Int?, Int?, String, [String], Date).self)
        return Athlete(
            id: id, handle: handle, name: name, timeZone: timeZone, sex: sex.flatMap(Athlete.Sex.init(rawValue:)),
            birthYear: birthYear, hrMax: hrMax, hrRest: hrRest, level: Athlete.Level(rawValue: level) ?? .intermediate,
            squads: squads, createdAt: createdAt)
    }
}
