import Foundation
import Postgres
import SquadCore

/// `coach import`: a phone's export (JSON array, NDJSON, or a folder of them), as ops
/// or as bare entries, through the same apply engine as a push.
///
/// Bare entries get an `op_id` derived from their content and athlete, so importing
/// the same file twice applies nothing the second time. A bad line is reported with
/// its file and line number and does not stop the rest.
public enum Importer {
    /// One item of a file, with where it came from.
    public struct Item: Sendable {
        public var location: String
        public var value: Result<JSONValue, ImportProblem>

        public init(location: String, value: Result<JSONValue, ImportProblem>) {
            self.location = location
            self.value = value
        }
    }

    public struct ImportProblem: Error, Sendable, CustomStringConvertible {
        public var location: String
        public var message: String
        public var description: String { "\(location): \(message)" }
    }

    public struct Report: Sendable, Encodable {
        public var files = 0
        public var items = 0
        public var statuses: [String: Int] = [:]
        public var problems: [String] = []
    }

    /// Reads every item of a file or of the `.json`/`.ndjson`/`.jsonl` files of a folder.
    public static func read(path: String) throws -> [Item] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw AdminError(.notFound, "no file or folder at \(path)")
        }
        let files: [String]
        if isFolder.boolValue {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".json") || $0.hasSuffix(".ndjson") || $0.hasSuffix(".jsonl") }
                .sorted().map { "\(path)/\($0)" }
        } else {
            files = [path]
        }
        return try files.flatMap(readFile)
    }

    static func readFile(_ path: String) throws -> [Item] {
        guard let data = FileManager.default.contents(atPath: path) else { throw AdminError(.notFound, "cannot read \(path)") }
        let bytes = [UInt8](data)
        let name = URL(fileURLWithPath: path).lastPathComponent
        if bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "[") {
            do {
                guard let items = try StrictJSON.parse(bytes).arrayValue else { return [] }
                return items.enumerated().map { Item(location: "\(name) item \($0.offset + 1)", value: .success($0.element)) }
            } catch {
                return [Item(location: name, value: .failure(ImportProblem(location: name, message: "not a valid JSON array: \(error.description)")))]
            }
        }
        var items: [Item] = []
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.drop { [0x20, 0x09, 0x0D].contains($0) }
            guard !trimmed.isEmpty else { continue }
            let location = "\(name):\(lineNumber)"
            do {
                items.append(Item(location: location, value: .success(try StrictJSON.parse(Array(line)))))
            } catch {
                items.append(Item(location: location, value: .failure(ImportProblem(location: location, message: error.description))))
            }
        }
        return items
    }

    /// Turns an item into an op: ops pass as they are, bare entries become creates.
    public static func op(from value: JSONValue, athleteID: Int64, location: String) -> Result<JSONValue, ImportProblem> {
        guard var members = value.objectValue else { return .failure(ImportProblem(location: location, message: "not a JSON object")) }
        if members["op"] != nil { return .success(value) }
        guard let kind = members["kind"]?.stringValue else {
            return .failure(ImportProblem(location: location, message: "a bare entry needs \"kind\" (run, drills, strength, wellness, cross, note)"))
        }
        let fingerprint = "import|\(athleteID)|\(value.canonicalText)"
        let entryID = members["entry_id"]?.stringValue ?? StableID.make(fingerprint + "|entry").lowercasedText
        members["entry_id"] = .string(entryID)
        let when = (value.value(at: "time.end") ?? value.value(at: "time.start"))?.stringValue.flatMap { ISOInstant.parseMillis($0) }
            ?? value.value(at: "time.local_date")?.stringValue.flatMap { ISOInstant.parseMillis($0 + "T12:00:00Z") }
            ?? 0
        return .success(.object([
            "op_id": .string(StableID.make(fingerprint).lowercasedText), "op": .string("create"),
            "entry_id": .string(entryID), "kind": .string(kind),
            "hlc": .string(HLC(millis: when, counter: 0, node: "import").description), "entry": .object(members),
        ]))
    }

    /// Applies the items in batches of 500 through `PushService`, one transaction each.
    public static func apply(
        _ items: [Item], handle: String, deviceName: String?, pool: ConnectionPool, nowMillis: Int64,
        progress: @escaping @Sendable (Int, Int) -> Void
    ) async throws -> Report {
        let device = try await pool.withTransaction { connection -> AuthenticatedDevice in
            guard let athlete = try AthleteStore.find(handle: handle, on: connection) else {
                throw AdminError(.notFound, "no athlete with handle '\(handle)'")
            }
            let name = deviceName ?? "import"
            let rows = try connection.query("SELECT id FROM devices WHERE athlete_id = \(athlete.id) AND name = \(name) AND revoked_at IS NULL ORDER BY created_at LIMIT 1")
            if let row = rows.first { return AuthenticatedDevice(id: try row.decode(UUID.self, at: 0), athleteID: athlete.id) }
            guard deviceName == nil else {
                throw AdminError(.notFound, "athlete '\(handle)' has no active device named '\(name)' (see coach devices list \(handle))")
            }
            let created = try DeviceStore.enrollInternal(handle: handle, name: "import", type: "other", on: connection)
            return AuthenticatedDevice(id: created.id, athleteID: athlete.id)
        }
        var report = Report()
        report.items = items.count
        var done = 0
        for start in stride(from: 0, to: items.count, by: 500) {
            let chunk = Array(items[start..<min(items.count, start + 500)])
            var ops: [Result<SyncOp, SyncOp.Invalid>] = []
            var locations: [String] = []
            for item in chunk {
                let converted = item.value.flatMap { op(from: $0, athleteID: device.athleteID, location: item.location) }
                switch converted {
                case .failure(let problem):
                    report.problems.append(problem.description)
                    report.statuses["invalid", default: 0] += 1
                case .success(let json):
                    do {
                        ops.append(try SyncOp.decode(json, index: 0))
                        locations.append(item.location)
                    } catch {
                        report.problems.append("\(item.location): \(error.message)")
                        report.statuses["invalid", default: 0] += 1
                    }
                }
            }
            let push = PushRequest(ops: ops)
            let response = try await pool.withTransaction { try PushService.apply(push, device: device, nowMillis: nowMillis, on: $0) }
            for (location, result) in zip(locations, response["results"]?.arrayValue ?? []) {
                let status = result["status"]?.stringValue ?? "?"
                report.statuses[status, default: 0] += 1
                if status == "rejected" || status == "conflict" || status == "skipped" {
                    let field = result["field"]?.stringValue.map { " \($0)" } ?? ""
                    report.problems.append("\(location): \(status) \(result["code"]?.stringValue ?? "")\(field): \(result["message"]?.stringValue ?? "")")
                }
            }
            done += chunk.count
            progress(done, items.count)
        }
        report.files = Set(items.map { $0.location.split(separator: ":").first.map(String.init) ?? $0.location }).count
        return report
    }
}
