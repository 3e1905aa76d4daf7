import Foundation
import OnceEncoding
import Testing

@testable import OnceCore

/// FIPS 180-4 / NIST example vectors, plus lengths around the padding boundaries.
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func fipsVectors(message: String, digest: String) {
        #expect(SHA256.hex(message) == digest)
        #expect(SHA256.hex(Array(message.utf8)) == digest)
        #expect(SHA256.digest(Array(message.utf8)).count == 32)
    }

    @Test func oneMillionA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(message) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths where the padding spills into an extra block (values from coreutils `sha256sum`).
    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
    ])
    func paddingBoundaries(length: Int, digest: String) {
        #expect(SHA256.hex(String(repeating: "a", count: length)) == digest)
    }

    @Test func hexIsLowercaseAndHashesUTF8() {
        // "é" is hashed as its two UTF-8 bytes.
        #expect(SHA256.hex("é") == SHA256.hex([0xC3, 0xA9]))
        #expect(SHA256.hex("é") != SHA256.hex([0xE9]))
        let hex = SHA256.hex("x")
        #expect(hex.count == 64)
        #expect(hex.allSatisfy { "0123456789abcdef".contains($0) })
    }
}

@Suite struct JSONValueTests {
    @Test func canonicalTextSortsKeysAtEveryDepth() {
        let value: JSONValue = .object([
            "b": .int(1),
            "a": .object(["z": .null, "y": .array([.object(["d": .bool(false), "c": .bool(true)])])]),
            "B": .string("upper sorts first"),
        ])
        #expect(value.canonicalText == #"{"B":"upper sorts first","a":{"y":[{"c":true,"d":false}],"z":null},"b":1}"#)
    }

    @Test func canonicalTextKeepsArrayOrderAndHasNoWhitespace() {
        #expect(JSONValue.array([.int(3), .int(1), .int(2)]).canonicalText == "[3,1,2]")
        #expect(JSONValue.array([]).canonicalText == "[]")
        #expect(JSONValue.object([:]).canonicalText == "{}")
    }

    @Test func canonicalTextEscapes() {
        let s = "q\"b\\n\nr\rt\tb\u{08}f\u{0C}c\u{01}u\u{1F}/é😀"
        #expect(JSONValue.string(s).canonicalText == #""q\"b\\n\nr\rt\tb\bf\fc\u0001u\u001f/é😀""#)
        // Keys are escaped the same way.
        #expect(JSONValue.object(["a\"b": .int(1)]).canonicalText == #"{"a\"b":1}"#)
    }

    @Test func canonicalTextNumbers() {
        #expect(JSONValue.int(-42).canonicalText == "-42")
        #expect(JSONValue.int(Int64.max).canonicalText == "9223372036854775807")
        #expect(JSONValue.double(1.5).canonicalText == "1.5")
        #expect(JSONValue.double(2).canonicalText == "2.0")
        #expect(JSONValue.double(-0.25).canonicalText == "-0.25")
        #expect(JSONValue.double(.nan).canonicalText == "null")
        #expect(JSONValue.double(.infinity).canonicalText == "null")
        #expect(JSONValue.bool(true).canonicalText == "true")
        #expect(JSONValue.null.canonicalText == "null")
    }

    @Test func canonicalHashIsSHA256OfCanonicalText() {
        let a: JSONValue = .object(["x": .int(1), "y": .int(2)])
        let b: JSONValue = .object(["y": .int(2), "x": .int(1)])
        #expect(a.canonicalHash == b.canonicalHash)
        #expect(a.canonicalHash == SHA256.hex(#"{"x":1,"y":2}"#))
        #expect(a.canonicalHash != JSONValue.object(["x": .int(1), "y": .int(3)]).canonicalHash)
    }

    @Test func codableRoundTrip() throws {
        let value: JSONValue = .object([
            "null": .null, "t": .bool(true), "f": .bool(false), "int": .int(42), "neg": .int(-7),
            "big": .int(Int64.max), "dbl": .double(1.5), "str": .string("a\"b\n😀"),
            "arr": .array([.int(1), .string("two"), .array([]), .object([:])]),
            "obj": .object(["nested": .object(["deep": .double(-0.125)])]),
        ])
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }

    @Test func decodingKeepsJSONTypesApart() throws {
        func decode(_ text: String) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }
        #expect(try decode("true") == .bool(true))
        #expect(try decode("1") == .int(1))
        #expect(try decode("0") == .int(0))
        #expect(try decode("1.25") == .double(1.25))
        #expect(try decode(#""1""#) == .string("1"))
        #expect(try decode("null") == .null)
        #expect(try decode(#"{"a":[1,true,null]}"#) == .object(["a": .array([.int(1), .bool(true), .null])]))
    }

    @Test func accessors() {
        let v: JSONValue = .object(["run_id": .string("r"), "n": .int(1)])
        #expect(v["run_id"]?.stringValue == "r")
        #expect(v["n"]?.stringValue == nil)
        #expect(v["missing"] == nil)
        #expect(JSONValue.array([]).objectValue == nil)
        #expect(v.objectValue?.count == 2)
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.int(0).isNull)
        #expect(JSONValue.double(1).typeName == "number")
        #expect(JSONValue.object([:]).typeName == "object")
    }
}
