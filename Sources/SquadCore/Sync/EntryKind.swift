/// The kinds of log entry (SYNC.md "Entry envelope").
public enum EntryKind: String, Sendable, CaseIterable, Codable {
    case run, drills, strength, wellness, cross, note
    /// Server-made; devices may read but never write them.
    case planSession = "plan_session"
    case notice

    /// Whether a device may create or edit entries of this kind.
    public var isDeviceWritable: Bool { self != .planSession && self != .notice }
}

/// How a field merges when two devices edit an entry concurrently (SYNC.md merge policy).
public enum FieldClass: Sendable, Equatable {
    /// Recorded facts: set by the first write, later edits rejected (`immutable_field`).
    case recordedFact
    /// Last writer wins per field by HLC, ties by device id.
    case editableScalar
    /// The HLC winner stays; a concurrent loser becomes a conflict record.
    case freeText

    /// The class of a dotted field path such as `body.notes` or `time.start`.
    public static func of(_ path: String) -> FieldClass {
        if path.hasPrefix("time.") || path == "time" || path.hasPrefix("source.") || path == "source" { return .recordedFact }
        if path == "body.splits" || path.hasPrefix("body.splits.") || path.hasPrefix("body.laps") || path.hasPrefix("body.samples") {
            return .recordedFact
        }
        if freeTextFields.contains(path) || path.hasSuffix(".notes") { return .freeText }
        return .editableScalar
    }

    static let freeTextFields: Set<String> = ["body.notes", "body.text", "body.title"]
}
