import Foundation
import Hummingbird
import OnceCore

/// Query parameters decoded as browsers and Python's `requests` encode them (`+` is a space,
/// `%XX` bytes must form UTF-8), with FastAPI-style issues for bad values.
struct QueryReader {
    private var values: [String: String] = [:]
    private(set) var issues: [FieldIssue] = []

    init(_ request: Request) {
        guard let query = request.uri.query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            guard let value else {
                issues.append(
                    FieldIssue(
                        type: "string_unicode", loc: ["query", name], msg: "Input should be a valid UTF-8 string"))
                continue
            }
            if values[name] == nil { values[name] = value }
        }
    }

    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l)
                else {
                    return nil
                }
                bytes.append(hi << 4 | lo)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Percent-decoding for one path segment (`+` stays a plus there).
    static func decodePathSegment(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        return decode(Substring(text.replacingOccurrences(of: "+", with: "%2B")))
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    func finish() throws {
        if !issues.isEmpty { throw APIError.validation(issues) }
    }

    mutating func string(_ name: String, required: Bool = false) -> String? {
        guard let value = values[name] else {
            if required { issues.append(.missing(["query", name])) }
            return nil
        }
        if let issue = Rules.checkNoNUL(value, loc: ["query", name]) {
            issues.append(issue)
            return nil
        }
        return value
    }

    mutating func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let text = values[name] else { return defaultValue }
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)) else {
            issues.append(
                FieldIssue(
                    type: "int_parsing", loc: ["query", name],
                    msg: "Input should be a valid integer, unable to parse string as an integer", input: .string(text)))
            return defaultValue
        }
        if n < range.lowerBound {
            issues.append(
                FieldIssue(
                    type: "greater_than_equal", loc: ["query", name],
                    msg: "Input should be greater than or equal to \(range.lowerBound)", input: .string(text)))
        } else if n > range.upperBound {
            issues.append(
                FieldIssue(
                    type: "less_than_equal", loc: ["query", name],
                    msg: "Input should be less than or equal to \(range.upperBound)", input: .string(text)))
        }
        return n
    }

    mutating func key() -> String? {
        guard let key = string("key", required: true) else { return nil }
        if let issue = Rules.checkKey(key, loc: ["query", "key"]) {
            issues.append(issue)
            return nil
        }
        return key
    }
}
