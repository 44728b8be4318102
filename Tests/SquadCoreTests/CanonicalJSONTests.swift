import SquadCore
import Testing

@Suite("Canonical JSON")
struct CanonicalJSONTests {
    @Test("object keys come out in UTF-16 code unit order (RFC 8785), ASCII fast path or not")
    func keyOrder() {
        // U+E000 sorts after a supplementary character in UTF-16 (surrogates are D800-DFFF)
        // but before it in UTF-8: the case a byte order would get wrong.
        let alphabet: [String] = ["a", "b", "B", "_", "0", "é", "\u{E000}", "😀", "z"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let key = (0..<Int.random(in: 0...4, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
                members[key] = .int(1)
            }
            let expected = "{" + members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }.map { "\"\($0)\":1" }.joined(separator: ",") + "}"
            #expect(JSONValue.object(members).canonicalText == expected)
        }
        #expect(JSONValue.object(["\u{E000}": .int(1), "😀": .int(2)]).canonicalText == "{\"😀\":2,\"\u{E000}\":1}")
        #expect(JSONValue.object(["ab": .int(1), "a": .int(2), "aé": .int(3)]).canonicalText == "{\"a\":2,\"ab\":1,\"aé\":3}")
    }
}
