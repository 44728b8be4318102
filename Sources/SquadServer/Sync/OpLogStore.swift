import Foundation
import Postgres
import SquadCore

/// All SQL for the permanent op log that makes every op apply exactly once.
public enum OpLogStore {
    /// Stored results of the ops among `ids` that were seen before.
    public static func results(of ids: [UUID], athleteID: Int64, on connection: Connection) throws -> [UUID: JSONValue] {
        guard !ids.isEmpty else { return [:] }
        return try decodeResults(connection.query(resultsStatement(of: ids, athleteID: athleteID)))
    }

    public static func resultsStatement(of ids: [UUID], athleteID: Int64) -> SQL {
        "SELECT op_id, entry_id, result::text FROM applied_ops WHERE athlete_id = \(athleteID) AND op_id = ANY(\(ids))"
    }

    public static func decodeResults(_ rows: QueryResult) throws -> [UUID: JSONValue] {
        var results: [UUID: JSONValue] = [:]
        for row in rows {
            let (id, entryID, text) = try row.decode((UUID, UUID?, String).self)
            // Rows written before migration 0014 hold both ids in the result as well.
            if let stored = try? StrictJSON.parse(text) { results[id] = OpResult.withIDs(stored, opID: id, entryID: entryID) }
        }
        return results
    }

    /// Records results, all in one statement; an op id already present is left as it was.
    /// The ids live in their columns only: the stored result is a third smaller.
    public static func record(_ results: [OpResult], deviceID: UUID, athleteID: Int64, on connection: Connection) throws {
        if let statement = recordStatement(results, deviceID: deviceID, athleteID: athleteID) { try connection.execute(statement) }
    }

    public static func recordStatement(_ results: [OpResult], deviceID: UUID, athleteID: Int64) -> SQL? {
        guard !results.isEmpty else { return nil }
        return """
            INSERT INTO applied_ops (athlete_id, op_id, device_id, entry_id, result)
            SELECT \(athleteID), r.op_id, \(deviceID), r.entry_id, r.result
            FROM ROWS FROM (unnest(\(results.map(\.opID))), unnest(\(results.map(\.entryID))::uuid[]),
                            jsonb_array_elements(\(EntryStore.jsonArray(results.map(\.storedJSON)))::jsonb))
                 AS r(op_id, entry_id, result)
            ON CONFLICT (athlete_id, op_id) DO NOTHING
            """
    }
}
