import Foundation

/// Slot keys: `backup:{date}` runs once per day across a fleet. Placeholders are expanded
/// from the slot time (the intended schedule time when `--slot-time` gives it, else now) in a
/// chosen time zone, so a late cron start still lands in its own slot.
package struct KeyTemplate: Sendable {
    package static let placeholders: [String: String] = [
        "date": "YYYY-MM-DD",
        "hour": "YYYY-MM-DDTHH",
        "minute": "YYYY-MM-DDTHH:MM",
        "week": "ISO week, YYYY-Www",
        "month": "YYYY-MM",
        "year": "YYYY",
    ]

    package enum Problem: Error, Equatable, CustomStringConvertible {
        case unknownPlaceholder(String)
        case unclosedBrace

        package var description: String {
            switch self {
            case .unknownPlaceholder(let name):
                "unknown placeholder {\(name)} in KEY; known: "
                    + KeyTemplate.placeholders.keys.sorted().map { "{\($0)}" }.joined(separator: " ")
            case .unclosedBrace: "unclosed { in KEY"
            }
        }
    }

    package let text: String

    package init(_ text: String) { self.text = text }

    package var hasPlaceholders: Bool { text.contains("{") }

    package func expand(at instant: Date, in zone: TimeZone) throws(Problem) -> String {
        let date = instant
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
        let day = "\(p(c.year, 4))-\(p(c.month))-\(p(c.day))"
        // In a repeated local hour (daylight saving fall-back) the wall clock names two
        // instants: the offset tells them apart, so neither hour's run is skipped as done.
        let offset =
            Self.isRepeatedWallTime(instant, in: zone) ? Self.offsetText(zone.secondsFromGMT(for: instant)) : ""
        let values: [String: String] = [
            "date": day,
            "hour": "\(day)T\(p(c.hour))\(offset)",
            "minute": "\(day)T\(p(c.hour)):\(p(c.minute))\(offset)",
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

    /// True when the local wall-clock time of `instant` also occurs at another instant (the
    /// hour repeated when clocks go back).
    static func isRepeatedWallTime(_ instant: Date, in zone: TimeZone) -> Bool {
        let offset = zone.secondsFromGMT(for: instant)
        let wall = instant.timeIntervalSince1970 + Double(offset)
        // Offsets in force a few hours either side: a transition inside that span is the only way
        // the same wall time can repeat.
        for probe in [-3.0, 3.0] {
            let other = zone.secondsFromGMT(for: instant.addingTimeInterval(probe * 3600))
            guard other != offset else { continue }
            let twin = Date(timeIntervalSince1970: wall - Double(other))
            if zone.secondsFromGMT(for: twin) == other { return true }
        }
        return false
    }

    /// `+01:00`, `-03:30`.
    static func offsetText(_ seconds: Int) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let m = abs(seconds) / 60
        return sign + String(format: "%02d:%02d", m / 60, m % 60)
    }
}
