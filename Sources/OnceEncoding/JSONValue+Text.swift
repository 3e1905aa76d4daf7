/// The two text forms of a ``JSONValue``. Both are compact (no insignificant whitespace), put
/// object members in a fixed order and escape strings the same way (``JSONText``); they differ
/// on purpose, in the two things each must match byte for byte, so neither may change:
///
/// | | ``JSONValue/canonicalText`` | ``JSONValue/typeScriptText`` |
/// |---|---|---|
/// | used for | stored documents, size limits, `result_hash` | SDK request bodies, TypeScript-compatible idempotency keys |
/// | must match | hashes already stored, the interop tests | what `JSON.stringify` prints in the TypeScript SDK |
/// | members sorted by | `String` order (Unicode scalars after normalisation) | UTF-16 code units (JavaScript's `sort()`) |
/// | `1.0` (a double) | `1.0` (below 1e15; beyond, Swift's `description`) | `1` (below 1e21, as JavaScript) |
extension JSONValue {
    // MARK: Canonical text (result_hash)

    /// Canonical text: object members sorted by key (`String` order), no insignificant
    /// whitespace, integral doubles below 1e15 with a `.0`. Used for storage, size limits and
    /// `result_hash`, so equal documents always give equal bytes; stored hashes depend on every
    /// byte of it.
    public var canonicalText: String {
        var out = ""
        writeCanonicalText(into: &out)
        return out
    }

    /// SHA-256 of ``canonicalText``, lowercase hex: the `result_hash` of a stored result.
    public var canonicalHash: String { SHA256.hex(Array(canonicalText.utf8)) }

    /// Appends ``canonicalText`` to `out`.
    public func writeCanonicalText(into out: inout String) { write(.canonical, into: &out) }

    /// A double in ``canonicalText``: integral values below 1e15 as `N.0`, other finite values
    /// as Swift prints them, non-finite ones as `null`.
    static func canonicalNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) + ".0" }
        return "\(d)"
    }

    // MARK: TypeScript text (JSON.stringify)

    /// Compact JSON text as JavaScript's `JSON.stringify` prints it: no spaces, `/` not escaped,
    /// integral doubles without a fraction, non-finite numbers as `null`; object members sorted
    /// by UTF-16 code units (JavaScript's default order) so the output is deterministic. The
    /// SDK sends its bodies in this form, and the TypeScript SDK's derived idempotency keys hash
    /// it, so a Swift and a TypeScript process derive the same key.
    public var typeScriptText: String {
        var out = ""
        writeTypeScriptText(into: &out)
        return out
    }

    /// Appends ``typeScriptText`` to `out`.
    public func writeTypeScriptText(into out: inout String) { write(.typeScript, into: &out) }

    /// A number as JavaScript prints it in JSON: integral values below 1e21 as all their
    /// digits, other finite values as Swift prints them (the shortest text that reads back),
    /// non-finite ones as `null`.
    public static func typeScriptNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d.rounded() == d && abs(d) < 1e21 {
            if abs(d) < 9.2e18 { return String(Int(d)) }
            return (d < 0 ? "-" : "") + exactDigits(d.magnitude)
        }
        return "\(d)"
    }

    /// The decimal digits of an integral double from 9.2e18 up to 1e21, exactly (what C's
    /// `%.0f` prints), without Foundation: the significand times its power of two in 128 bits,
    /// split at 10^19.
    private static func exactDigits(_ magnitude: Double) -> String {
        let significand = magnitude.significandBitPattern | (1 << 52)
        let shift = Int(magnitude.exponent) - 52  // 10…17 in this range
        let product = significand.multipliedFullWidth(by: 1 << UInt64(shift))
        let tenToThe19: UInt64 = 10_000_000_000_000_000_000
        let (high, low) = tenToThe19.dividingFullWidth((product.high, product.low))
        let lowDigits = String(low)
        guard high > 0 else { return lowDigits }
        return String(high) + String(repeating: "0", count: 19 - lowDigits.count) + lowDigits
    }

    /// JavaScript's default string order: UTF-16 code units.
    public static func utf16Less(_ a: String, _ b: String) -> Bool { a.utf16.lexicographicallyPrecedes(b.utf16) }

    // MARK: The writer both forms share

    /// What sets the two forms apart: how doubles print and how object members are ordered.
    struct TextForm: Sendable {
        let number: @Sendable (Double) -> String
        let precedes: @Sendable (String, String) -> Bool

        static let canonical = TextForm(number: JSONValue.canonicalNumber, precedes: <)
        static let typeScript = TextForm(number: JSONValue.typeScriptNumber, precedes: JSONValue.utf16Less)
    }

    private func write(_ form: TextForm, into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += form.number(d)
        case .string(let s): JSONText.writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(form, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.sorted(by: { form.precedes($0.key, $1.key) }).enumerated() {
                if i > 0 { out += "," }
                JSONText.writeString(member.key, into: &out)
                out += ":"
                member.value.write(form, into: &out)
            }
            out += "}"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text (``typeScriptText``).
    public var description: String { typeScriptText }
}
