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
