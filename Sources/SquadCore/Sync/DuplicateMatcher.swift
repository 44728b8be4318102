import Foundation

/// What duplicate detection needs to know of an activity entry (run or cross).
public struct ActivitySummary: Sendable, Equatable {
    public var entryID: UUID
    /// `run` for every run (road, trail, treadmill); otherwise the cross sport.
    public var sportFamily: String
    public var startMillis: Int64
    public var endMillis: Int64
    public var distanceMeters: Double?
    /// `system:id` keys of FIT file ids, Health Connect, HealthKit and Strava ids.
    public var externalKeys: Set<String>
    public var deviceType: String
    public var recordingMethod: String
    /// A rough count of recorded data (fields, splits), for choosing the group's primary.
    public var dataScore: Int

    public init(entryID: UUID, sportFamily: String, startMillis: Int64, endMillis: Int64, distanceMeters: Double?, externalKeys: Set<String>, deviceType: String, recordingMethod: String, dataScore: Int) {
        self.entryID = entryID
        self.sportFamily = sportFamily
        self.startMillis = startMillis
        self.endMillis = endMillis
        self.distanceMeters = distanceMeters
        self.externalKeys = externalKeys
        self.deviceType = deviceType
        self.recordingMethod = recordingMethod
        self.dataScore = dataScore
    }

    /// The summary of a stored envelope, or `nil` when it is not a timed activity.
    public init?(entryID: UUID, kind: EntryKind, doc: JSONValue) {
        guard kind == .run || kind == .cross else { return nil }
        guard let start = doc.value(at: "time.start")?.stringValue.flatMap({ ISOInstant.parseMillis($0) }) else { return nil }
        var end = doc.value(at: "time.end")?.stringValue.flatMap { ISOInstant.parseMillis($0) }
        if end == nil, let elapsed = doc.value(at: "body.elapsed_s")?.numberValue { end = start + Int64(elapsed * 1000) }
        guard let end, end > start else { return nil }
        let sport = kind == .run ? "run" : (doc.value(at: "body.sport")?.stringValue ?? "cross")
        var keys: Set<String> = []
        for item in doc.value(at: "source.external_ids")?.arrayValue ?? [] {
            if let key = Self.externalKey(item) { keys.insert(key) }
        }
        // The members of body, as DuplicateStore counts stored entries in SQL
        // (jsonb_object_keys): a group's primary must not depend on which member is new.
        let fields = doc["body"]?.objectValue?.count ?? 0
        let splits = doc.value(at: "body.splits")?.arrayValue?.count ?? 0
        self.init(
            entryID: entryID, sportFamily: sport, startMillis: start, endMillis: end,
            distanceMeters: doc.value(at: "body.distance_m")?.numberValue, externalKeys: keys,
            deviceType: doc.value(at: "source.device_type")?.stringValue ?? "other",
            recordingMethod: doc.value(at: "source.recording_method")?.stringValue ?? "manual",
            dataScore: fields + splits)
    }

    /// The exact identity of a record in another system (SYNC.md: FIT file id,
    /// Health Connect record id, HealthKit UUID, Strava id).
    public static func externalKey(_ item: JSONValue) -> String? {
        guard let system = item["system"]?.stringValue, !system.isEmpty else { return nil }
        let identity: JSONValue?
        switch system {
        case "fit": identity = item["file_id"]
        case "healthkit": identity = item["uuid"] ?? item["sync_identifier"]
        default: identity = item["id"]
        }
        guard let identity, !identity.isNull else { return nil }
        return system + ":" + (identity.stringValue ?? identity.canonicalText)
    }
}

/// The duplicate-activity rule of SYNC.md: link, never delete.
public enum DuplicateMatcher {
    public enum Verdict: Sendable, Equatable {
        /// The same recording: link into one group.
        case link(reason: String)
        /// Perhaps the same: a `possible_duplicate` conflict for a person.
        case possible
        case distinct
    }

    public static func compare(_ a: ActivitySummary, _ b: ActivitySummary) -> Verdict {
        guard a.entryID != b.entryID else { return .distinct }
        if !a.externalKeys.isDisjoint(with: b.externalKeys) { return .link(reason: "external_id") }
        guard a.sportFamily == b.sportFamily else { return .distinct }
        let overlap = max(0, min(a.endMillis, b.endMillis) - max(a.startMillis, b.startMillis))
        let shorter = min(a.endMillis - a.startMillis, b.endMillis - b.startMillis)
        guard shorter > 0 else { return .distinct }
        let ratio = Double(overlap) / Double(shorter)
        let startGap = abs(a.startMillis - b.startMillis)
        var distancesAgree = true
        if let da = a.distanceMeters, let db = b.distanceMeters, max(da, db) > 0 {
            distancesAgree = abs(da - db) / max(da, db) <= 0.15
        }
        if ratio >= 0.8 && startGap <= 5 * 60_000 && distancesAgree { return .link(reason: "overlap") }
        if ratio >= 0.5 && startGap <= 10 * 60_000 { return .possible }
        return .distinct
    }

    /// The group's primary: device priority, then actively recorded over manual,
    /// then more data, then the lowest entry id, so it never depends on arrival order.
    public static func primary(of members: [ActivitySummary], devicePriority: [String] = ["watch", "ring", "phone", "other"]) -> UUID? {
        func rank(_ list: [String], _ value: String) -> Int { list.firstIndex(of: value) ?? list.count }
        let methods = ["active", "automatic", "manual"]
        return members.min { a, b in
            let (da, db) = (rank(devicePriority, a.deviceType), rank(devicePriority, b.deviceType))
            if da != db { return da < db }
            let (ma, mb) = (rank(methods, a.recordingMethod), rank(methods, b.recordingMethod))
            if ma != mb { return ma < mb }
            if a.dataScore != b.dataScore { return a.dataScore > b.dataScore }
            return a.entryID.lowercasedText < b.entryID.lowercasedText
        }?.entryID
    }
}
