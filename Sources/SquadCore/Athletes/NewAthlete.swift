import Foundation

/// What a coach types to register an athlete, checked before it reaches the database.
public struct NewAthlete: Sendable, Equatable {
    public var handle: String
    public var name: String
    public var squad: String
    public var timeZone: String
    public var sex: Athlete.Sex?
    public var birthYear: Int?
    public var hrMax: Int?
    public var hrRest: Int?
    public var level: Athlete.Level

    public init(
        handle: String, name: String, squad: String, timeZone: String, sex: Athlete.Sex? = nil,
        birthYear: Int? = nil, hrMax: Int? = nil, hrRest: Int? = nil, level: Athlete.Level = .intermediate
    ) {
        self.handle = handle
        self.name = name
        self.squad = squad
        self.timeZone = timeZone
        self.sex = sex
        self.birthYear = birthYear
        self.hrMax = hrMax
        self.hrRest = hrRest
        self.level = level
    }

    /// Every problem found, each naming its field; empty when the athlete is valid.
    ///
    /// - Parameter currentYear: the year now, passed in (no clock reads in the core).
    public func problems(currentYear: Int) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        if let problem = Handle.problem(handle) { problems.append(ValidationProblem(field: "handle", message: problem)) }
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmedName.isEmpty || trimmedName.count > 120 {
            problems.append(ValidationProblem(field: "name", message: "must be 1 to 120 characters"))
        }
        if squad.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(ValidationProblem(field: "squad", message: "must name a squad"))
        }
        if !TimeZoneName.isValid(timeZone) {
            problems.append(ValidationProblem(field: "tz", message: "'\(timeZone)' is not an IANA time zone such as Europe/Lisbon"))
        }
        if let birthYear, !(1900...currentYear).contains(birthYear) {
            problems.append(ValidationProblem(field: "birth-year", message: "must be between 1900 and \(currentYear)"))
        }
        if let hrMax, !(100...250).contains(hrMax) {
            problems.append(ValidationProblem(field: "hr-max", message: "must be 100 to 250 bpm"))
        }
        if let hrRest, !(25...120).contains(hrRest) {
            problems.append(ValidationProblem(field: "hr-rest", message: "must be 25 to 120 bpm"))
        }
        if let hrMax, let hrRest, hrRest >= hrMax {
            problems.append(ValidationProblem(field: "hr-rest", message: "must be below hr-max (\(hrMax))"))
        }
        return problems
    }
}

/// One invalid field and why, as shown to a coach or returned to a device.
public struct ValidationProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Handles name athletes and coaches on the command line: `ana`, `j.smith`, `runner-42`.
public enum Handle {
    /// Why `handle` is not valid, or `nil`: lower-case letters, digits, `.`, `_`, `-`,
    /// starting with a letter or digit, at most 40 characters.
    public static func problem(_ handle: String) -> String? {
        let bytes = Array(handle.utf8)
        guard !bytes.isEmpty, bytes.count <= 40 else { return "must be 1 to 40 characters" }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard isLowerAlphanumeric(bytes[0]) else { return "must start with a lower-case letter or digit" }
        for byte in bytes where !isLowerAlphanumeric(byte) && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "_") && byte != UInt8(ascii: "-") {
            return "may hold only lower-case letters, digits, '.', '_' and '-'"
        }
        return nil
    }
}

/// IANA time zone names, as athletes' local days are computed in them.
public enum TimeZoneName {
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, TimeZone(identifier: name) != nil else { return false }
        // Foundation also accepts abbreviations and offsets ("GMT+2"); local days need a region name or UTC.
        return name == "UTC" || name.contains("/")
    }
}
