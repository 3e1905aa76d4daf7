import Testing

@testable import OnceCore

/// UTC formatting (API §1.2) and the calendar arithmetic under it.
@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z", "1970-01-01", "1970-01"),
        (1_709_251_199_000, "2024-02-29T23:59:59Z", "2024-02-29", "2024-02"),
        (1_709_251_200_000, "2024-03-01T00:00:00Z", "2024-03-01", "2024-03"),
        (1_736_937_000_000, "2025-01-15T10:30:00Z", "2025-01-15", "2025-01"),
        (4_107_542_399_000, "2100-02-28T23:59:59Z", "2100-02-28", "2100-02"),
        (-1, "1969-12-31T23:59:59Z", "1969-12-31", "1969-12"),
        (-1_000, "1969-12-31T23:59:59Z", "1969-12-31", "1969-12"),
        (-1_001, "1969-12-31T23:59:58Z", "1969-12-31", "1969-12"),
        (-1_000_000_000_000, "1938-04-24T22:13:20Z", "1938-04-24", "1938-04"),
        (-62_135_596_800_000, "0001-01-01T00:00:00Z", "0001-01-01", "0001-01"),
        (1_999, "1970-01-01T00:00:01Z", "1970-01-01", "1970-01"),
    ])
    func formatsKnownInstants(milliseconds: Int64, iso: String, day: String, month: String) {
        let t = Timestamp(milliseconds: milliseconds)
        #expect(t.iso8601 == iso)
        #expect(t.day == day)
        #expect(t.month == month)
    }

    @Test func unixSecondsRoundDown() {
        #expect(Timestamp(milliseconds: 1_999).unixSeconds == 1)
        #expect(Timestamp(milliseconds: 0).unixSeconds == 0)
        #expect(Timestamp(milliseconds: -1).unixSeconds == -1)
        #expect(Timestamp(milliseconds: -1_000).unixSeconds == -1)
        #expect(Timestamp(milliseconds: -1_001).unixSeconds == -2)
        #expect(Timestamp(seconds: 1_705_322_400).unixSeconds == 1_705_322_400)
    }

    @Test func secondsUntilRoundsUpAndNeverGoesNegative() {
        let base = Timestamp(seconds: 100)
        let cases: [(Int64, Int)] = [
            (0, 0), (1, 1), (999, 1), (1_000, 1), (1_001, 2), (59_999, 60), (-1, 0), (-5_000, 0),
        ]
        for (delta, expected) in cases {
            #expect(base.secondsUntil(Timestamp(milliseconds: base.milliseconds + delta)) == expected, "\(delta) ms")
        }
    }

    @Test func addingAndOrdering() {
        let a = Timestamp(seconds: 10)
        #expect(a.adding(seconds: 5) == Timestamp(seconds: 15))
        #expect(a.adding(seconds: -15) == Timestamp(seconds: -5))
        #expect(a < a.adding(seconds: 1))
        #expect(!(a < a))
    }

    @Test func addingSaturatesTowardsTheSideItOverflows() {
        #expect(Timestamp(milliseconds: Int64.max - 10).adding(seconds: 1) == Timestamp(milliseconds: Int64.max))
        // Going far into the past must not land in the far future.
        #expect(Timestamp(milliseconds: Int64.min + 10).adding(seconds: -1) == Timestamp(milliseconds: Int64.min))
    }

    @Test(arguments: [
        ("1970-01-01", Int64(0)), ("1970-01-02", 1), ("1969-12-31", -1), ("2024-02-29", 19_782), ("2000-02-29", 11_016),
        ("2025-12-31", 20_453), ("0001-01-01", -719_162),
    ])
    func parseDayAcceptsRealDates(text: String, days: Int64) {
        #expect(CivilTime.parseDay(text) == days)
        #expect(Timestamp(seconds: days * 86_400).day == text)
    }

    @Test(arguments: [
        "2025-02-30", "2025-02-29", "2100-02-29", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00", "2025-01-32",
    ])
    func parseDayRejectsImpossibleDates(text: String) {
        #expect(CivilTime.parseDay(text) == nil)
    }

    @Test(arguments: [
        "", "2025", "2025-01", "2025-1-01", "2025-01-1", "25-01-01", "02025-01-01", "2025/01/01",
        "2025-01-01T00:00:00Z",
        " 2025-01-01", "2025-01-01 ", "abcd-ef-gh", "2025--01-01", "2025-01-01-", "2025-+1-05", "2025-01-+5",
        "+025-01-05",
    ])
    func parseDayRejectsBadFormats(text: String) {
        #expect(CivilTime.parseDay(text) == nil)
    }

    @Test func civilDaysRoundTrip() {
        // Every 37th day over ±2000 years: daysFromCivil inverts CivilTime.
        for days in stride(from: Int64(-730_000), through: 730_000, by: 37) {
            let c = CivilTime(unixSeconds: days * 86_400 + 86_399)
            let back = CivilTime.daysFromCivil(year: c.year, month: c.month, day: c.day)
            if back != days || c.hour != 23 || c.minute != 59 || c.second != 59 {
                Issue.record("day \(days) → \(c.year)-\(c.month)-\(c.day) → \(back)")
                return
            }
        }
    }
}
