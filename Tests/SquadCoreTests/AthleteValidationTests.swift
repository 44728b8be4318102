import SquadCore
import Testing

@Suite("Athlete validation")
struct AthleteValidationTests {
    @Test("handles: lower-case letters, digits, '.', '_', '-'", arguments: ["ana", "j.smith", "runner-42", "a_b", "0x"])
    func validHandles(handle: String) {
        #expect(Handle.problem(handle) == nil)
    }

    @Test("bad handles are refused with a reason", arguments: ["", "Ana", "-ana", ".x", "ana smith", "ana@club", "é", String(repeating: "a", count: 41)])
    func invalidHandles(handle: String) {
        #expect(Handle.problem(handle) != nil)
    }

    @Test("IANA zone names are accepted, abbreviations and nonsense are not")
    func timeZones() {
        #expect(TimeZoneName.isValid("Europe/Lisbon"))
        #expect(TimeZoneName.isValid("America/Argentina/Buenos_Aires"))
        #expect(TimeZoneName.isValid("UTC"))
        #expect(!TimeZoneName.isValid("Mars/Base"))
        #expect(!TimeZoneName.isValid("CET+1"))
        #expect(!TimeZoneName.isValid(""))
    }

    @Test("every problem names its field")
    func problemsNameFields() {
        let athlete = NewAthlete(
            handle: "Ana", name: " ", squad: "", timeZone: "Nowhere/Land", birthYear: 1850, hrMax: 90, hrRest: 130)
        let fields = athlete.problems(currentYear: 2026).map(\.field)
        #expect(fields == ["handle", "name", "squad", "tz", "birth-year", "hr-max", "hr-rest", "hr-rest"])
    }

    @Test("a complete, sensible athlete has no problems")
    func validAthlete() {
        let athlete = NewAthlete(
            handle: "ana", name: "Ana Costa", squad: "Tuesday Club", timeZone: "Europe/Lisbon", sex: .female,
            birthYear: 1988, hrMax: 186, hrRest: 48, level: .advanced)
        #expect(athlete.problems(currentYear: 2026).isEmpty)
        let future = NewAthlete(handle: "kid", name: "Kid", squad: "s", timeZone: "UTC", birthYear: 2027)
        #expect(future.problems(currentYear: 2026).map(\.field) == ["birth-year"])
    }

    @Test("resting HR must be below max HR")
    func heartRates() {
        let athlete = NewAthlete(handle: "x", name: "X", squad: "s", timeZone: "UTC", hrMax: 110, hrRest: 110)
        #expect(athlete.problems(currentYear: 2026) == [ValidationProblem(field: "hr-rest", message: "must be below hr-max (110)")])
    }
}
