import Foundation
import OnceEncoding

/// A JSON object as the SDK sends and receives it: member name to value.
public typealias JSONObject = [String: JSON]

/// A JSON value held as a `Sendable` value type.
///
/// Every answer the SDK decodes keeps its raw JSON in this form (`raw` on the result types), so
/// fields the typed models do not cover stay reachable. Literals work directly, string
/// interpolation included: `let meta: JSONObject = ["invoice": "INV-\(n)", "amount": 99.5,
/// "tags": ["a", "b"]]`. A variable needs its case (`.double(amount)`) or ``init(encoding:)``;
/// every API parameter that takes a ``JSONObject`` also takes any `Encodable` value that encodes
/// to an object (a `Codable` struct, `[String: Double]`, …).
///
/// Integers that fit in `Int` decode as ``int(_:)``; every other number as ``double(_:)``.
public enum JSON: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integral number.
    case int(Int)
    /// A number with a fraction or outside the `Int` range.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSON])
    /// An object.
    case object(JSONObject)

    /// The member `key` when this is an object, else `nil`.
    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The element at `index` when this is an array and the index is in range, else `nil`.
    public subscript(index: Int) -> JSON? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    /// The string when this is ``string(_:)``.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value when this is ``bool(_:)``.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The number as an `Int` when this is ``int(_:)`` or an integral ``double(_:)`` in range.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int(d)
        default: return nil
        }
    }

    /// The number as a `Double` when this is ``int(_:)`` or ``double(_:)``.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The members when this is ``object(_:)``.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The elements when this is ``array(_:)``.
    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Whether this is ``null``.
    public var isNull: Bool { self == .null }

    /// JavaScript truthiness: `null`, `false`, `0`, `NaN` and `""` are falsy, everything else
    /// (including empty arrays and objects) is truthy. The official clients decide some fields
    /// with it, so the port does too.
    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0 && !d.isNaN
        case .string(let s): !s.isEmpty
        case .array, .object: true
        }
    }
}

// MARK: - Literals

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByStringInterpolation, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A floating-point number.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A string built by interpolation: `"run_\(tag)"`.
    public init(stringInterpolation: DefaultStringInterpolation) {
        self = .string(String(stringInterpolation: stringInterpolation))
    }
    /// An array.
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    /// An object; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(elements, uniquingKeysWith: { _, last in last }))
    }
}

// MARK: - Codable

extension JSON: Codable {
    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSON].self) {
            self = .array(a)
        } else if let o = try? container.decode(JSONObject.self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    /// Encodes the value as it is.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    /// The JSON form of any `Encodable` value (through `JSONEncoder`), e.g. a `Codable` struct
    /// you want to send as metadata or store as a result.
    ///
    /// `Date`s become the text JavaScript's `toISOString()` prints (`2026-03-01T12:00:00.000Z`,
    /// UTC, milliseconds), as `JSON.stringify` does; `Data` becomes base64 text (`JSONEncoder`'s
    /// default). ``decode(as:)`` reads both back.
    public init(encoding value: some Encodable) throws {
        self = try JSONCoding.json(encoding: value, data: .base64)
    }

    /// Parses JSON text; `nil` when it is not valid JSON.
    public init?(parsing data: Data) {
        guard let value = try? JSONDecoder().decode(JSON.self, from: data) else { return nil }
        self = value
    }

    /// Decodes this value into a `Decodable` type, e.g. a typed view of an `AIResult.result`.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONCoding.decoder().decode(T.self, from: Data(serialized().utf8))
    }
}

// MARK: - Serialisation

extension JSON {
    /// Compact JSON text in the style of JavaScript's `JSON.stringify`: no spaces, `/` not
    /// escaped, integral doubles without a fraction, non-finite numbers as `null`. Object members
    /// are sorted by name (UTF-16 order) so the output is deterministic.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSON.formatNumber(d)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, name) in members.keys.sorted(by: JSON.utf16Less).enumerated() {
                if i > 0 { out += "," }
                JSON.writeString(name, to: &out)
                out += ":"
                members[name]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// A number as JavaScript prints it in JSON (close enough for keys and bodies).
    static func formatNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d.rounded() == d && abs(d) < 1e21 {
            if abs(d) < 9.2e18 { return String(Int(d)) }
            return String(format: "%.0f", d)
        }
        return "\(d)"
    }

    /// A string literal with the escapes `JSON.stringify` uses.
    static func writeString(_ s: String, to out: inout String) {
        JSONText.writeString(s, into: &out)
    }

    /// JavaScript's default string order (UTF-16 code units).
    static func utf16Less(_ a: String, _ b: String) -> Bool { a.utf16.lexicographicallyPrecedes(b.utf16) }
}

extension JSON: CustomStringConvertible {
    /// The compact JSON text (see ``serialized()``).
    public var description: String { serialized() }
}
