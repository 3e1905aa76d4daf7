import Foundation

/// Slot keys: `backup:{date}` runs once per day across a fleet. Placeholders are expanded
/// from the slot time (the intended schedule time when `--slot-time` gives it, else now) in a
/// chosen time zone, so a late cron start still lands in its own slot.
public struct KeyTemplate: Sendable {
    public static let placeholders: [String: String] = [
        "date": "YYYY-MM-DD",
        "hour": "YYYY-MM-DDTHH",
        "minute": "YYYY-MM-DDTHH:MM",
        "week": "ISO week, YYYY-Www",
        "month": "YYYY-MM",
        "year": "YYYY",
    ]

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unknownPlaceholder(String)
        case unclosedBrace

        public var description: String {
            switch self {
            case .unknownPlaceholder(let name):
                "unknown placeholder {\(name)} in KEY; known: "
                    + KeyTemplate.placeholders.keys.sorted().map { "{\($0)}" }.joined(separator: " ")
            case .unclosedBrace: "unclosed { in KEY"
            }
        }
    }

    public let text: String

    public init(_ text: String) { self.text = text }

    public var hasPlaceholders: Bool { text.contains("{") }

    public func expand(at date: Date, in zone: TimeZone) throws(Problem) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = zone
        let w = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        func p(_ n: Int?, _ width: Int = 2) -> String {
            let s = String(n ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let date = "\(p(c.year, 4))-\(p(c.month))-\(p(c.day))"
        let values: [String: String] = [
            "date": date,
            "hour": "\(date)T\(p(c.hour))",
            "minute": "\(date)T\(p(c.hour)):\(p(c.minute))",
            "week": "\(p(w.yearForWeekOfYear, 4))-W\(p(w.weekOfYear))",
            "month": "\(p(c.year, 4))-\(p(c.month))",
            "year": p(c.year, 4),
        ]
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { throw .unclosedBrace }
            let name = String(rest[rest.index(after: open)..<close])
            guard let value = values[name] else { throw .unknownPlaceholder(name) }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
