import Foundation
import Postgres
import SquadCore

/// Rule thresholds per squad and per athlete, kept in their `settings` documents as
/// `{"rules_pack": "seeds|evidence", "rules": {"KEY": number}}`.
public enum RuleStore {
    public static func athlete(_ handle: String, on connection: Connection) throws -> Athlete {
        guard let athlete = try AthleteStore.find(handle: handle, on: connection) else {
            throw AdminError(.notFound, "no athlete with handle '\(handle)'")
        }
        return athlete
    }

    /// The rules in force for an athlete: the squad's pack and overrides, then the athlete's.
    public static func effective(athleteID: Int64, on connection: Connection) throws -> RuleSet {
        let rows = try connection.query("""
            SELECT a.settings::text,
                   coalesce((SELECT s.settings::text FROM athlete_squads m JOIN squads s ON s.id = m.squad_id
                             WHERE m.athlete_id = a.id ORDER BY s.id LIMIT 1), '{}')
            FROM athletes a WHERE a.id = \(athleteID)
            """)
        guard let row = rows.first else { throw AdminError(.notFound, "no athlete with id \(athleteID)") }
        let (athleteSettings, squadSettings) = try row.decode((String, String).self)
        return RuleSettings.ruleSet(squad: squadSettings, athlete: athleteSettings)
    }

    /// The pack's defaults, for a squad's view.
    public static func effective(squad: String, on connection: Connection) throws -> RuleSet {
        let id = try SquadStore.id(named: squad, on: connection)
        let settings = try connection.query("SELECT settings::text FROM squads WHERE id = \(id)")[0].decode(String.self, at: 0)
        return RuleSettings.ruleSet(squad: settings, athlete: "{}")
    }

    /// What a `coach rules set` changes.
    public enum Scope: Sendable {
        case athlete(String)
        case squad(String)
    }

    /// Sets `KEY=VALUE` overrides (`pack=seeds|evidence` for a squad); validated first,
    /// all or nothing. `VALUE` `default` removes an override.
    public static func set(_ assignments: [(key: String, value: String)], scope: Scope, on connection: Connection) throws {
        var rules: [String: JSONValue?] = [:]
        var pack: RuleSet.Pack?
        for (key, value) in assignments {
            if key == "pack" {
                guard case .squad = scope else { throw AdminError(.invalid, "pack: a rule pack is chosen per squad (use --squad NAME)") }
                guard let chosen = RuleSet.Pack(rawValue: value) else {
                    throw AdminError(.invalid, "pack: must be one of \(RuleSet.Pack.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                pack = chosen
                continue
            }
            if value == "default" {
                guard RuleSet.parameter(key) != nil else { throw AdminError(.invalid, "\(key): unknown rule key; see `coach rules show`") }
                rules[key] = .some(nil)
                continue
            }
            guard let number = Double(value) else { throw AdminError(.invalid, "\(key): '\(value)' is not a number") }
            do { try RuleSet.validate(key: key, value: number) } catch { throw AdminError(.invalid, error.description) }
            rules[key] = .some(.double(number))
        }
        let (table, id): (String, Int64) = switch scope {
        case .athlete(let handle): ("athletes", try athlete(handle, on: connection).id)
        case .squad(let name): ("squads", try SquadStore.id(named: name, on: connection))
        }
        let current = try connection.query("SELECT settings::text FROM \(identifier: table) WHERE id = \(id) FOR UPDATE")[0].decode(String.self, at: 0)
        var settings = (try? StrictJSON.parse(current))?.objectValue ?? [:]
        var ruleValues = settings["rules"]?.objectValue ?? [:]
        for (key, value) in rules { ruleValues[key] = value ?? nil }
        settings["rules"] = .object(ruleValues)
        if let pack { settings["rules_pack"] = .string(pack.rawValue) }
        try connection.execute("UPDATE \(identifier: table) SET settings = \(JSONValue.object(settings).canonicalText)::jsonb WHERE id = \(id)")
    }
}
