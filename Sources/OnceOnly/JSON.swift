import Foundation
import OnceEncoding

/// A JSON value held as a `Sendable` value type: the package's one JSON type
/// (`OnceEncoding.JSONValue`), under the SDK's name.
///
/// Every answer the SDK decodes keeps its raw JSON in this form (`raw` on the result types), so
/// fields the typed models do not cover stay reachable. Literals work directly, string
/// interpolation included: `let meta: JSONObject = ["invoice": "INV-\(n)", "amount": 99.5,
/// "tags": ["a", "b"]]`. A variable needs its case (`.double(amount)`) or `init(encoding:)`;
/// every API parameter that takes a ``JSONObject`` also takes any `Encodable` value that encodes
/// to an object (a `Codable` struct, `[String: Double]`, …).
///
/// Integers that fit in `Int` decode as `int(_:)`; every other number as `double(_:)`. The SDK
/// sends it as `serialized()` prints it, the text JavaScript's `JSON.stringify` would.
public typealias JSON = JSONValue

/// A JSON object as the SDK sends and receives it: member name to value.
public typealias JSONObject = [String: JSON]

// The SDK's JSON takes `nil` for `null` (`["note": nil]`). Declared here, not with the type:
// in the engine's code that imports only OnceEncoding, `cond ? nil : value` must stay an
// absent optional.
extension JSONValue: ExpressibleByNilLiteral {
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
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
        try JSONCoding.decoder().decode(T.self, from: Data(typeScriptText.utf8))
    }

    /// Compact JSON text in the style of JavaScript's `JSON.stringify`: no spaces, `/` not
    /// escaped, integral doubles without a fraction, non-finite numbers as `null`. Object members
    /// are sorted by name (UTF-16 order) so the output is deterministic. The same text as
    /// `typeScriptText`; request bodies are sent in it.
    public func serialized() -> String { typeScriptText }
}
