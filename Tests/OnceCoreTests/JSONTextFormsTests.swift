import Foundation
import OnceEncoding
import Testing

/// The two text forms of the one JSON value type, byte for byte. Every expected text below was
/// printed by the implementations they replace (the engine's `JSONValue.canonicalText` and the
/// SDK's `JSON.serialized()`, before the two types were merged), so stored `result_hash`es and
/// TypeScript-compatible keys stay what they were.
@Suite("JSONValue text forms")
struct JSONTextFormsTests {
    /// (bit pattern of the double, canonical text, TypeScript text)
    static let numbers: [(UInt64, String, String)] = [
        (0, "0.0", "0"),
        (9_223_372_036_854_775_808, "0.0", "0"),  // -0.0
        (4_607_182_418_800_017_408, "1.0", "1"),
        (13_830_554_455_654_793_216, "-1.0", "-1"),
        (4_609_434_218_613_702_656, "1.5", "1.5"),
        (4_591_870_180_066_957_722, "0.1", "0.1"),
        (4_502_148_214_488_346_440, "1e-07", "1e-07"),
        (4_817_745_636_528_479_808, "123456789012345.0", "123456789012345"),
        (4_831_355_200_913_801_208, "999999999999999.0", "999999999999999"),
        (4_831_355_200_913_801_216, "1000000000000000.0", "1000000000000000"),  // 1e15
        (14_054_727_237_768_577_024, "-1000000000000000.0", "-1000000000000000"),
        (4_846_369_599_423_283_200, "1e+16", "10000000000000000"),
        (4_890_886_371_069_617_664, "9.2e+18", "9200000000000000000"),
        (4_890_946_611_321_988_160, "9.3e+18", "9300000000000000000"),
        (4_895_412_794_951_729_152, "1.8446744073709552e+19", "18446744073709551616"),  // 2^64
        (4_906_019_910_204_099_648, "1e+20", "100000000000000000000"),
        (14_129_391_947_058_875_456, "-1e+20", "-100000000000000000000"),
        (4_907_451_598_986_591_450, "1.2345678901234568e+20", "123456789012345683968"),
        (4_921_056_587_992_461_135, "9.999999999999999e+20", "999999999999999868928"),  // below 1e21
        (4_921_056_587_992_461_136, "1e+21", "1e+21"),
        (9_218_868_437_227_405_311, "1.7976931348623157e+308", "1.7976931348623157e+308"),
        (1, "5e-324", "5e-324"),
        (9_218_868_437_227_405_312, "null", "null"),  // +inf
        (18_442_240_474_082_181_120, "null", "null"),  // -inf
        (9_221_120_237_041_090_560, "null", "null"),  // NaN
        (4_612_811_918_334_230_528, "2.5", "2.5"),
        (13_876_516_538_906_639_021, "-1234.5678", "-1234.5678"),
    ]

    @Test("doubles: canonical and TypeScript forms as before, in every range")
    func numbers() {
        for (bits, canonical, typeScript) in Self.numbers {
            let value = JSONValue.double(Double(bitPattern: bits))
            #expect(value.canonicalText == canonical, "\(Double(bitPattern: bits))")
            #expect(value.typeScriptText == typeScript, "\(Double(bitPattern: bits))")
        }
    }

    @Test("integers print alike in both forms")
    func integers() {
        for i in [Int.max, Int.min, 0, -7] {
            #expect(JSONValue.int(i).canonicalText == String(i))
            #expect(JSONValue.int(i).typeScriptText == String(i))
        }
    }

    @Test("integral doubles from 9.2e18 to 1e21 print all their digits, exactly as C's %.0f")
    func exactLargeIntegers() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [9.2e18, 9_223_372_036_854_775_808, 1e21.nextDown, 18_446_744_073_709_551_616]
        for _ in 0..<2000 { samples.append(Double.random(in: 9.2e18..<1e21, using: &generator).rounded(.down)) }
        for d in samples {
            #expect(JSONValue.typeScriptNumber(d) == String(format: "%.0f", d), "\(d.bitPattern)")
            #expect(JSONValue.typeScriptNumber(-d) == String(format: "%.0f", -d), "\(d.bitPattern)")
        }
    }

    @Test("strings escape alike in both forms")
    func strings() {
        let s = "q\"b\\n\nr\rt\tb\u{08}f\u{0C}c\u{01}u\u{1F}\u{7F}/é😀"
        let expected = "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\fc\\u0001u\\u001f\u{7F}/é😀\""
        #expect(JSONValue.string(s).canonicalText == expected)
        #expect(JSONValue.string(s).typeScriptText == expected)
        #expect(JSONValue.string("\u{2028}\u{2029}").typeScriptText == "\"\u{2028}\u{2029}\"")
    }

    /// Keys whose `String` order and UTF-16 order differ: a combining accent (normalised
    /// before comparing), a private-use character against an emoji (a surrogate pair in UTF-16).
    static let keys = [
        "b", "a", "B", "_", "10", "9", "é", "e\u{301}x", "f", "😀", "\u{FF5E}", "\u{E000}", "aa", "a\u{0}",
    ]

    @Test("members: String order in the canonical form, UTF-16 order in the TypeScript form")
    func memberOrder() {
        var members: [String: JSONValue] = [:]
        for (i, key) in Self.keys.enumerated() { members[key] = .int(i) }
        let value = JSONValue.object(members)
        #expect(
            value.canonicalText
                == "{\"10\":4,\"9\":5,\"B\":2,\"_\":3,\"a\":1,\"a\\u0000\":13,\"aa\":12,\"b\":0,\"f\":8,\"é\":6,"
                + "\"e\u{301}x\":7,\"\u{E000}\":11,\"\u{FF5E}\":10,\"😀\":9}")
        #expect(
            value.typeScriptText
                == "{\"10\":4,\"9\":5,\"B\":2,\"_\":3,\"a\":1,\"a\\u0000\":13,\"aa\":12,\"b\":0,\"e\u{301}x\":7,"
                + "\"f\":8,\"é\":6,\"😀\":9,\"\u{E000}\":11,\"\u{FF5E}\":10}")
        #expect(value.description == value.typeScriptText)
    }

    static let nested: JSONValue = .object([
        "z": .array([.double(1), .double(2.5), .null, .bool(true), .object(["y": .int(1), "x": .double(1e15)])]),
        "a": .object([:]), "m": .string("/"),
    ])

    @Test("a nested document, and the result_hash of its canonical text")
    func nestedDocument() {
        #expect(
            Self.nested.canonicalText == #"{"a":{},"m":"/","z":[1.0,2.5,null,true,{"x":1000000000000000.0,"y":1}]}"#)
        #expect(Self.nested.typeScriptText == #"{"a":{},"m":"/","z":[1,2.5,null,true,{"x":1000000000000000,"y":1}]}"#)
        #expect(Self.nested.canonicalHash == "8ebaed0c9d0d8650b0996c52ab80e12f0bb798ba0635fc5a35f94bb71ca2b182")
    }

    @Test("decoding: integers as int, other numbers as double; both forms read back to the same value")
    func decoding() throws {
        let text = #"{"i":3,"d":3.5,"big":1e300,"n":null,"b":false,"s":"x","a":[1,{"k":[]}]}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value["i"] == .int(3) && value["d"] == .double(3.5) && value["big"] == .double(1e300))
        #expect(value["n"] == .null && value["b"] == .bool(false) && value["a"]?[1]?["k"] == .array([]))
        for form in [value.canonicalText, value.typeScriptText] {
            let again = try JSONDecoder().decode(JSONValue.self, from: Data(form.utf8))
            #expect(again.canonicalText == value.canonicalText)
        }
    }
}
