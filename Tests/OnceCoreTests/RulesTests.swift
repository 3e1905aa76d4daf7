import Testing

@testable import OnceCore

/// Input rules of API §4, §5.2 and §15 rows 4–6.
@Suite struct RulesTests {
    let loc = ["body", "key"]

    // MARK: keys

    @Test func keyLengthBounds() {
        let empty = Rules.checkKey("", loc: loc)
        #expect(empty?.type == "string_too_short")
        #expect(empty?.loc == loc)
        #expect(Rules.checkKey("a", loc: loc) == nil)
        #expect(Rules.checkKey(String(repeating: "a", count: 256), loc: loc) == nil)
        let long = Rules.checkKey(String(repeating: "a", count: 257), loc: loc)
        #expect(long?.type == "string_too_long")
        #expect(long?.loc == loc)
    }

    @Test func keyLengthCountsUnicodeScalarsNotBytes() {
        // 256 emoji are 1024 UTF-8 bytes but 256 characters.
        #expect(Rules.checkKey(String(repeating: "😀", count: 256), loc: loc) == nil)
        #expect(Rules.checkKey(String(repeating: "😀", count: 257), loc: loc)?.type == "string_too_long")
        // "e" + combining acute is one Character but two scalars, as Python counts it.
        let composed = String(repeating: "e\u{301}", count: 128)
        #expect(composed.count == 128)
        #expect(Rules.checkKey(composed, loc: loc) == nil)
        #expect(Rules.checkKey(composed + "x", loc: loc)?.type == "string_too_long")
    }

    @Test func keyMayHoldAnyTextButNUL() {
        for key in [" padded ", "a/b?c=d&e", "Ключ", "\t", "\u{7F}"] {
            #expect(Rules.checkKey(key, loc: loc) == nil, "\(key)")
        }
        for key in ["\u{0}", "a\u{0}b", "abc\u{0}"] {
            let issue = Rules.checkKey(key, loc: loc)
            #expect(issue?.type == "string_pattern_mismatch")
            #expect(issue?.loc == loc)
        }
    }

    // MARK: TTL

    @Test(arguments: [
        (Plan.free, 60, 3_600), (.starter, 3_600, 86_400), (.pro, 21_600, 604_800), (.agency, 86_400, 2_592_000),
    ])
    func effectiveTTLDefaultsAndClamps(plan: Plan, defaultTTL: Int, maxTTL: Int) {
        #expect(Rules.effectiveTTL(requested: nil, plan: plan) == defaultTTL)
        // Below the minimum: clamped up to 10 s.
        #expect(Rules.effectiveTTL(requested: 1, plan: plan) == 10)
        #expect(Rules.effectiveTTL(requested: 9, plan: plan) == 10)
        #expect(Rules.effectiveTTL(requested: 10, plan: plan) == 10)
        #expect(Rules.effectiveTTL(requested: 11, plan: plan) == 11)
        // Inside the range: as asked.
        #expect(Rules.effectiveTTL(requested: Int64(maxTTL - 1), plan: plan) == maxTTL - 1)
        #expect(Rules.effectiveTTL(requested: Int64(maxTTL), plan: plan) == maxTTL)
        // Above the plan maximum: clamped down, even for absurd values.
        #expect(Rules.effectiveTTL(requested: Int64(maxTTL + 1), plan: plan) == maxTTL)
        #expect(Rules.effectiveTTL(requested: Int64.max, plan: plan) == maxTTL)
    }

    @Test func effectiveTTLHonoursACustomMinimum() {
        #expect(Rules.effectiveTTL(requested: 20, plan: .free, minTTL: 30) == 30)
        #expect(Rules.effectiveTTL(requested: 40, plan: .free, minTTL: 30) == 40)
        #expect(Rules.effectiveTTL(requested: 1, plan: .free, minTTL: 1) == 1)
    }

    // MARK: metadata

    /// `{"k":"xxx…"}` is 8 bytes plus the string.
    func metadata(bytes: Int) -> JSONValue {
        .object(["k": .string(String(repeating: "x", count: bytes - 8))])
    }

    @Test func metadataSizeLimit() {
        let mloc = ["body", "metadata"]
        #expect(metadata(bytes: 2048).canonicalText.utf8.count == 2048)
        #expect(Rules.checkMetadata(metadata(bytes: 2048), loc: mloc) == nil)
        let over = Rules.checkMetadata(metadata(bytes: 2049), loc: mloc)
        #expect(over?.type == "value_error")
        #expect(over?.loc == mloc)
        #expect(over?.msg.contains("2049") == true)
        // Bytes, not characters: 1020 two-byte characters plus the frame is 2048 bytes; 1021 is over.
        let twoByte = { (n: Int) in JSONValue.object(["k": .string(String(repeating: "é", count: n))]) }
        #expect(Rules.checkMetadata(twoByte(1020), loc: mloc) == nil)
        #expect(Rules.checkMetadata(twoByte(1021), loc: mloc)?.type == "value_error")
        #expect(Rules.checkMetadata(.object([:]), loc: mloc) == nil)
    }

    @Test(arguments: [
        JSONValue.null, .array([]), .string("x"), .int(1), .bool(true), .array([.object([:])]),
    ])
    func metadataMustBeAnObject(value: JSONValue) {
        let issue = Rules.checkMetadata(value, loc: ["body", "metadata"])
        #expect(issue?.type == "dict_type")
        #expect(issue?.input == value)
    }

    @Test func resultSizeLimit() {
        let frame = #"{"k":""}"#.utf8.count
        let fits = JSONValue.object(["k": .string(String(repeating: "x", count: Rules.maxResultBytes - frame))])
        #expect(fits.canonicalText.utf8.count == 262_144)
        #expect(Rules.checkResult(fits, loc: ["body", "result"]) == nil)
        let over = JSONValue.object(["k": .string(String(repeating: "x", count: Rules.maxResultBytes - frame + 1))])
        #expect(Rules.checkResult(over, loc: ["body", "result"])?.type == "value_error")
    }
}
