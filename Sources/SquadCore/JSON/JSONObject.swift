/// The members of a JSON object, kept sorted in canonical key order with unique keys.
///
/// A sorted array instead of a `Dictionary`: the objects of log entries have a handful
/// of short keys, which a scan finds faster than hashing them, the parser builds one
/// without hashing (most devices already send keys in order), duplicate keys are
/// neighbours once sorted, and canonical output needs no sort. Order is RFC 8785's
/// (UTF-16 code units), so equal objects have equal members and equal bytes.
/// Reads and writes by key take O(log n); an object of n members built by assigning keys
/// one by one in random order takes O(n²) moves, so bulk builders go through
/// `init(_: [String: JSONValue])` or the parser.
public struct JSONObject: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// Sorted by `JSONObject.precedes`, no key twice.
    public private(set) var members: [Member]

    public init() {
        members = []
    }

    public init(_ dictionary: [String: JSONValue]) {
        members = dictionary.map { Member(key: $0.key, value: $0.value) }
        members.sort { Self.precedes($0.key, $1.key) }
    }

    /// Members already in order with unique keys (the parser's output).
    init(sortedUniqueMembers members: [Member]) {
        self.members = members
    }

    /// Members in any order; `nil` when a key repeats.
    static func sorting(_ members: [Member]) -> JSONObject? {
        var members = members
        members.sort { precedes($0.key, $1.key) }
        for index in members.indices.dropFirst() where members[index].key == members[index - 1].key {
            return nil
        }
        return JSONObject(sortedUniqueMembers: members)
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    /// The keys in canonical order.
    public var keys: [String] { members.map(\.key) }
    public var values: [JSONValue] { members.map(\.value) }
    /// A dictionary of the same members, for code that wants one.
    public var dictionary: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: members.map { ($0.key, $0.value) })
    }

    /// Where `key` is, or where it would go.
    func position(of key: String) -> (index: Int, found: Bool) {
        // Short objects: a scan of equal-length small strings beats a binary search.
        if members.count <= 8 {
            for index in members.indices {
                let candidate = members[index].key
                if candidate == key { return (index, true) }
                if Self.precedes(key, candidate) { return (index, false) }
            }
            return (members.count, false)
        }
        var (low, high) = (0, members.count)
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(members[middle].key, key) { low = middle + 1 } else { high = middle }
        }
        return (low, low < members.count && members[low].key == key)
    }

    public subscript(key: String) -> JSONValue? {
        get {
            if members.count <= 8 {
                for member in members where member.key == key { return member.value }
                return nil
            }
            let (index, found) = position(of: key)
            return found ? members[index].value : nil
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, let value?): members[index].value = value
            case (true, nil): members.remove(at: index)
            case (false, let value?): members.insert(Member(key: key, value: value), at: index)
            case (false, nil): break
            }
        }
    }

    /// Sets a member and returns the value it replaced.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        let old = self[key]
        self[key] = value
        return old
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        let old = self[key]
        self[key] = nil
        return old
    }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        JSONObject(sortedUniqueMembers: try members.map { Member(key: $0.key, value: try transform($0.value)) })
    }

    /// The members `isIncluded` keeps, in order.
    public func filter(_ isIncluded: ((key: String, value: JSONValue)) throws -> Bool) rethrows -> JSONObject {
        JSONObject(sortedUniqueMembers: try members.filter { try isIncluded(($0.key, $0.value)) })
    }

    /// RFC 8785 order (UTF-16 code units). For ASCII keys, nearly all of them, that is the
    /// order of their bytes, compared without decoding.
    public static func precedes(_ left: String, _ right: String) -> Bool {
        var left = left
        var right = right
        let ascii: Bool? = left.withUTF8 { a in
            right.withUTF8 { b in
                let count = Swift.min(a.count, b.count)
                var index = 0
                while index < count {
                    let (x, y) = (a[index], b[index])
                    if x >= 0x80 || y >= 0x80 { return nil }
                    if x != y { return x < y }
                    index += 1
                }
                // Equal up to the shorter one: ASCII so far; the rest decides only by length
                // if it is ASCII too, which a non-ASCII tail does not change (longer wins).
                return a.count < b.count
            }
        }
        return ascii ?? left.utf16.lexicographicallyPrecedes(right.utf16)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A literal's members; a key given twice keeps its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init()
        for (key, value) in elements { self[key] = value }
    }
}

extension JSONObject: Sequence {
    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Member]>

        public mutating func next() -> (key: String, value: JSONValue)? {
            base.next().map { ($0.key, $0.value) }
        }
    }

    /// Members in canonical key order.
    public func makeIterator() -> Iterator {
        Iterator(base: members.makeIterator())
    }

    public var underestimatedCount: Int { members.count }
}
