import Foundation
import OnceCore
import OnceExec

/// The parsers that take text from outside: request bodies (JSON values and the rules applied
/// to them), keys, `--wait`/`--ttl`-style durations and key templates expanded at any instant in
/// any time zone. Each target traps when a property breaks; a trap is what the fuzzer reports.
enum FuzzTarget: String, CaseIterable {
    case json, key, duration, slot

    func run(_ bytes: [UInt8]) {
        switch self {
        case .json: Self.json(bytes)
        case .key: Self.key(bytes)
        case .duration: Self.duration(bytes)
        case .slot: Self.slot(bytes)
        }
    }

    /// What the server accepts as JSON keeps one canonical text: parsing that text again gives
    /// the same text (so `result_hash` and size limits do not depend on how a client spelled it).
    static func json(_ bytes: [UInt8]) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return }
        let text = value.canonicalText
        guard let again = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            fatalError("the canonical text of an accepted value does not parse: \(text.prefix(200))")
        }
        precondition(again.canonicalText == text, "canonical text is not stable: \(text.prefix(200))")
        _ = Rules.checkMetadata(value, loc: ["body", "metadata"])
        _ = Rules.checkResult(value, loc: ["body", "result"])
        if case .string(let s) = value { _ = Rules.checkKey(s, loc: ["body", "key"]) }
    }

    static func key(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if Rules.checkKey(text, loc: ["body", "key"]) == nil {
            precondition(!text.isEmpty && !text.unicodeScalars.contains("\u{0}"), "a bad key passed")
        }
    }

    /// A parsed duration is never negative, and formatting it and parsing that again stays
    /// within the formatter's rounding (a tenth of a second below a minute, a second above).
    static func duration(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let d = DurationText.parse(text) else { return }
        precondition(d >= .zero, "negative duration from \(text.debugDescription)")
        let shown = DurationText.format(d)
        guard let back = DurationText.parse(shown) else {
            fatalError("\(shown) (from \(text.debugDescription)) does not parse")
        }
        let slack: Duration = d < .seconds(60) ? .milliseconds(100) : .seconds(1)
        precondition(abs(back - d) <= slack, "\(text.debugDescription) -> \(shown) -> \(back)")
    }

    /// Key templates expand or fail with a Problem at every instant and zone; never trap.
    static func slot(_ bytes: [UInt8]) {
        guard bytes.count >= 9 else { return }
        var seconds: Int64 = 0
        for b in bytes[0..<8] { seconds = seconds << 8 | Int64(b) }
        let instant = Date(timeIntervalSince1970: Double(seconds % 20_000_000_000))  // ±634 years
        let zones = TimeZone.knownTimeZoneIdentifiers
        let zone = TimeZone(identifier: zones[Int(bytes[8]) % zones.count]) ?? .gmt
        let text = String(decoding: bytes[9...], as: UTF8.self)
        if let key = try? KeyTemplate(text).expand(at: instant, in: zone) {
            _ = Rules.checkKey(key, loc: ["KEY"])
        }
    }
}

private func abs(_ d: Duration) -> Duration { d < .zero ? .zero - d : d }
