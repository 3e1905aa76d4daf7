import Foundation

extension JSON {
    /// JavaScript's `String(x)`: strings as they are, numbers as printed, arrays joined with `,`
    /// (`null` elements empty), objects `[object Object]`. The official clients coerce some fields
    /// and non-object results with it.
    var jsString: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d):
            d.isNaN ? "NaN" : d.isInfinite ? (d > 0 ? "Infinity" : "-Infinity") : JSON.typeScriptNumber(d)
        case .string(let s): s
        case .array(let items): items.map { $0.isNull ? "" : $0.jsString }.joined(separator: ",")
        case .object: "[object Object]"
        }
    }
}

/// Reads answer fields with the coercion rules of the official clients (SDK.md §4).
struct FieldReader {
    let raw: JSONObject

    init(_ raw: JSONObject) { self.raw = raw }

    /// The member, treating JSON `null` as absent (JavaScript `??`).
    func value(_ name: String) -> JSON? {
        guard let value = raw[name], !value.isNull else { return nil }
        return value
    }

    /// `Boolean(x ?? fallback)`.
    func bool(_ name: String, default fallback: Bool = false) -> Bool { value(name)?.isTruthy ?? fallback }
    /// `String(x ?? "")`.
    func string(_ name: String) -> String { value(name)?.jsString ?? "" }
    /// `Number(x ?? 0)`, as an integer.
    func int(_ name: String) -> Int { number(value(name)).map { Int(exactly: $0.rounded(.towardZero)) ?? 0 } ?? 0 }
    /// `Number(x ?? 0)`.
    func double(_ name: String) -> Double { number(value(name)) ?? 0 }
    /// The member when it is a string.
    func optionalString(_ name: String) -> String? { raw[name]?.stringValue }
    /// The member when it is a number, as an integer (fractions truncated).
    func optionalInt(_ name: String) -> Int? {
        raw[name]?.doubleValue.flatMap { Int(exactly: $0.rounded(.towardZero)) }
    }
    /// The member when it is a number.
    func optionalDouble(_ name: String) -> Double? { raw[name]?.doubleValue }
    /// The member when it is an object.
    func object(_ name: String) -> JSONObject? { raw[name]?.objectValue }
    /// The member when it is an array.
    func array(_ name: String) -> [JSON]? { raw[name]?.arrayValue }

    /// JavaScript `Number(x)` for the shapes an API answer can hold.
    private func number(_ value: JSON?) -> Double? {
        switch value {
        case nil: return 0
        case .bool(let b)?: return b ? 1 : 0
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d.isFinite ? d : nil
        case .string(let s)?:
            let trimmed = s.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? 0 : Double(trimmed)
        default: return nil
        }
    }
}

extension AIClient {
    /// What `runFn` stores as `result`: an object as is, `null` as nothing, any other value as
    /// `{"value": <that JSON value>}` (`42` as `{"value": 42}`, `["a", "b"]` as
    /// `{"value": ["a", "b"]}`), so ``AIResult/decodeResult(as:)`` gets it back. The TypeScript
    /// SDK stores `{"value": String(v)}` instead (SDK.md §11): strings match, numbers, booleans
    /// and arrays do not.
    static func resultObject(_ value: some Encodable) -> JSONObject? {
        guard let json = try? JSON(encoding: value) else { return ["value": .string(String(describing: value))] }
        switch json {
        case .null: return nil
        case .object(let members): return members
        default: return ["value": json]
        }
    }
}
