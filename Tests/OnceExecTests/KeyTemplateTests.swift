import Foundation
import OnceExec
import Testing

@Suite("Key templates, durations, exit codes")
struct KeyTemplateTests {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test func placeholders() throws {
        let t = KeyTemplate("backup:{date}:{hour}:{minute}:{week}:{month}:{year}")
        #expect(
            try t.expand(at: date("2026-01-01T05:07:00Z"), in: utc)
                == "backup:2026-01-01:2026-01-01T05:2026-01-01T05:07:2026-W01:2026-01:2026")
        // ISO week-year differs from the calendar year around new year.
        #expect(try KeyTemplate("{week}").expand(at: date("2027-01-01T12:00:00Z"), in: utc) == "2026-W53")
    }

    @Test func timeZoneDecidesTheDay() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let late = date("2026-11-29T23:30:00Z")
        #expect(try KeyTemplate("b:{date}").expand(at: late, in: utc) == "b:2026-11-29")
        #expect(try KeyTemplate("b:{date}").expand(at: late, in: berlin) == "b:2026-11-30")
    }

    /// Europe/Berlin 2026: clocks go forward at 01:00Z on 29 March (02:00 → 03:00 local) and
    /// back at 01:00Z on 25 October (03:00 → 02:00 local).
    @Test(
        "daylight saving: a repeated hour carries its UTC offset, a skipped hour never appears",
        arguments: [
            // fall back: 02:xx happens twice
            ("2026-10-24T23:59:00Z", "2026-10-25T01", "2026-10-25T01:59"),
            ("2026-10-25T00:00:00Z", "2026-10-25T02+02:00", "2026-10-25T02:00+02:00"),
            ("2026-10-25T00:15:00Z", "2026-10-25T02+02:00", "2026-10-25T02:15+02:00"),
            ("2026-10-25T00:59:00Z", "2026-10-25T02+02:00", "2026-10-25T02:59+02:00"),
            ("2026-10-25T01:00:00Z", "2026-10-25T02+01:00", "2026-10-25T02:00+01:00"),
            ("2026-10-25T01:15:00Z", "2026-10-25T02+01:00", "2026-10-25T02:15+01:00"),
            ("2026-10-25T01:59:00Z", "2026-10-25T02+01:00", "2026-10-25T02:59+01:00"),
            ("2026-10-25T02:00:00Z", "2026-10-25T03", "2026-10-25T03:00"),
            // spring forward: 02:xx does not exist, nothing repeats
            ("2026-03-29T00:59:00Z", "2026-03-29T01", "2026-03-29T01:59"),
            ("2026-03-29T01:00:00Z", "2026-03-29T03", "2026-03-29T03:00"),
            ("2026-03-29T01:30:00Z", "2026-03-29T03", "2026-03-29T03:30"),
        ])
    func daylightSaving(instant: String, hour: String, minute: String) throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        #expect(try KeyTemplate("{hour}").expand(at: date(instant), in: berlin) == hour)
        #expect(try KeyTemplate("{minute}").expand(at: date(instant), in: berlin) == minute)
        #expect(try KeyTemplate("{date}").expand(at: date(instant), in: berlin) == String(hour.prefix(10)))
    }

    @Test("UTC and zones without daylight saving never carry an offset")
    func noOffsetWithoutTransitions() throws {
        let tokyo = TimeZone(identifier: "Asia/Tokyo")!
        for iso in ["2026-10-25T00:15:00Z", "2026-10-25T01:15:00Z", "2026-03-29T01:30:00Z"] {
            #expect(!(try KeyTemplate("{minute}").expand(at: date(iso), in: utc)).contains("+"))
            #expect(!(try KeyTemplate("{minute}").expand(at: date(iso), in: tokyo)).contains("+"))
        }
    }

    @Test func badTemplates() {
        #expect(throws: KeyTemplate.Problem.unknownPlaceholder("day")) {
            try KeyTemplate("x:{day}").expand(at: Date(), in: utc)
        }
        #expect(throws: KeyTemplate.Problem.unclosedBrace) { try KeyTemplate("x:{date").expand(at: Date(), in: utc) }
        #expect(try! KeyTemplate("plain").expand(at: Date(), in: utc) == "plain")
    }

    @Test func durations() {
        #expect(DurationText.parse("90") == .seconds(90))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("2d") == .seconds(172_800))
        for bad in ["", "abc", "5x", "-3", "m5", "1.2.3s"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.format(.seconds(3723)) == "1h2m3s")
    }

    @Test func exitCodeMap() throws {
        var map = ExitCodeMap()
        #expect(map.code(for: .held) == 200)
        try map.apply("held=1")
        #expect(map.code(for: .held) == 1)
        #expect(throws: ExitCodeMapError.self) { try map.apply("ran=3") }
        #expect(throws: ExitCodeMapError.self) { try map.apply("held=256") }
        #expect(throws: ExitCodeMapError.self) { try map.apply("nope=1") }
        // Every wrapper outcome has its own default code, apart from the two that mean "fine".
        let codes = ExecOutcome.allCases.filter { ![.ran, .completed, .skipped].contains($0) }.map(\.defaultCode)
        #expect(Set(codes).count == codes.count)
    }
}
