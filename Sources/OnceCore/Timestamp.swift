/// Milliseconds since the Unix epoch, UTC. The engine counts time in this one unit so that
/// stores can keep instants as integers and comparisons are exact.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// Saturates at the ends of the range instead of trapping.
    public func adding(seconds: Int) -> Timestamp {
        let (delta, o1) = Int64(seconds).multipliedReportingOverflow(by: 1000)
        let (sum, o2) = milliseconds.addingReportingOverflow(delta)
        if o1 || o2 { return Timestamp(milliseconds: seconds < 0 ? Int64.min : Int64.max) }
        return Timestamp(milliseconds: sum)
    }

    /// Whole Unix seconds, rounded down: the `ts` fields of events.
    public var unixSeconds: Int64 { milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000 }

    /// Whole seconds from `self` until `later`, rounded up, never negative.
    public func secondsUntil(_ later: Timestamp) -> Int {
        let (delta, overflow) = later.milliseconds.subtractingReportingOverflow(milliseconds)
        if overflow { return later > self ? Int.max : 0 }
        if delta <= 0 { return 0 }
        return Int(delta / 1000 + (delta % 1000 == 0 ? 0 : 1))
    }

    /// `2025-01-15T10:30:00Z`.
    public var iso8601: String {
        let c = CivilTime(unixSeconds: unixSeconds)
        return
            "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))Z"
    }

    /// UTC billing month, `YYYY-MM`.
    public var month: String {
        let c = CivilTime(unixSeconds: unixSeconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))"
    }

    /// UTC day, `YYYY-MM-DD`.
    public var day: String {
        let c = CivilTime(unixSeconds: unixSeconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }
}

private func pad(_ n: Int, _ width: Int) -> String {
    let s = String(n)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// Gregorian calendar fields in UTC, computed without Foundation (days-from-civil algorithm).
public struct CivilTime: Sendable, Equatable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    public init(unixSeconds: Int64) {
        var days = unixSeconds / 86_400
        var rem = unixSeconds % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        hour = Int(rem / 3600)
        minute = Int(rem % 3600 / 60)
        second = Int(rem % 60)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        month = Int(m)
        day = Int(d)
    }

    /// Days since 1970-01-01 for a civil date; the inverse of the day part above.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Parses `YYYY-MM-DD` strictly; returns days since the epoch.
    public static func parseDay(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        // Digits only: Int() alone would take "+1".
        guard parts.count == 3, parts.allSatisfy({ $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
            parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), d >= 1
        else { return nil }
        let days = daysFromCivil(year: y, month: m, day: d)
        // Reject 2025-02-30 and friends: the round trip must give the same date back.
        let back = CivilTime(unixSeconds: days * 86_400)
        guard back.year == y, back.month == m, back.day == d else { return nil }
        return days
    }
}
