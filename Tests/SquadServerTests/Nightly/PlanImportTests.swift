import Foundation
import SquadCore
import SquadServer
import Testing

@Suite("Plan import")
struct PlanImportTests {
    @Test("JSON and YAML plans read the same; unlisted days are rest")
    func bothFormats() throws {
        let json = """
            {"race_date": "2027-04-18", "distance": "half", "weeks": [
              {"start": "2027-01-04", "phase": "base", "sessions": [
                {"date": "2027-01-05", "type": "tempo", "distance_m": 9000, "drills": ["a_skips"]},
                {"date": "2027-01-10", "type": "long", "distance_m": 16000, "target": "steady"}]}]}
            """
        let yaml = """
            race_date: "2027-04-18"
            distance: half
            weeks:
              - start: "2027-01-04"
                phase: base
                sessions:
                  - {date: "2027-01-05", type: tempo, distance_m: 9000, drills: [a_skips]}
                  - {date: "2027-01-10", type: long, distance_m: 16000, target: steady}
            """
        let fromJSON = try PlanService.parsePlan(Data(json.utf8), yaml: false)
        let fromYAML = try PlanService.parsePlan(Data(yaml.utf8), yaml: true)
        #expect(fromJSON.weeks == fromYAML.weeks)
        let week = try #require(fromJSON.weeks.first)
        #expect(week.sessions.count == 7)
        #expect(week.sessions.filter { $0.type == .rest }.count == 5)
        #expect(week.sessions[1].drills == ["a_skips"] && week.sessions[6].target == "steady")
        #expect(fromJSON.raceDate == Day("2027-04-18"))
    }

    @Test("every problem is reported with its path, and nothing is made")
    func problems() {
        let bad = """
            {"distance": "ultra", "weeks": [
              {"start": "2027-01-05", "phase": "base", "sessions": [
                {"date": "2027-01-06", "type": "jog"},
                {"date": "2027-01-20", "type": "easy"},
                {"date": "2027-01-07", "type": "easy", "distance_m": -5}]},
              {"start": "2027-01-11", "phase": "speed", "sessions": []}]}
            """
        do {
            _ = try PlanService.parsePlan(Data(bad.utf8), yaml: false)
            Issue.record("an invalid plan was accepted")
        } catch let error as AdminError {
            for expected in ["distance: must be one of", "weeks[0].start: 2027-01-05 is not a Monday", "weeks[0].sessions[0].type: 'jog'",
                             "weeks[0].sessions[1].date: 2027-01-20 is not in the week", "weeks[0].sessions[2].distance_m", "weeks[1].phase"] {
                #expect(error.message.contains(expected), "missing '\(expected)' in: \(error.message)")
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: AdminError.self) { try PlanService.parsePlan(Data(#"{"weeks": [], "weeks": []}"#.utf8), yaml: false) }
        #expect(throws: AdminError.self) { try PlanService.parsePlan(Data("weeks: [\n".utf8), yaml: true) }
    }
}
