import Foundation
import OnceCore

/// What `once-exec run` was given, as words, before it is checked (``makeOptions()``).
///
/// Two parsers fill it: argument-parser's `RunCommand` (help, completions, every error with
/// its usage line) and ``RunArgumentsParser``, the start-up fast path for the common
/// `once-exec [options] KEY -- COMMAND` line. The defaults live here, once, for both.
package struct RunArguments: Sendable, Equatable {
    package enum Defaults {
        package static let busyTimeout = "10s"
        package static let ttl = 60
        package static let killAfter = "10s"
        package static let onLeaseLost = LeaseLossPolicy.stop
        package static let ifUnreachable = UnreachablePolicy.fail
        package static let capture = 0
        package static let tz = "UTC"
    }

    package var server: String?
    package var state: String?
    package var busyTimeout = Defaults.busyTimeout
    package var ttl = Defaults.ttl
    package var heartbeat: String?
    package var killAfter = Defaults.killAfter
    package var maxRuntime: String?
    /// A duration, or `forever` (a bare `--wait`, see the command line's normalisation).
    package var wait: String?
    package var join = false
    package var retryFailed = false
    package var replay = false
    package var onLeaseLost = Defaults.onLeaseLost
    package var ifUnreachable = Defaults.ifUnreachable
    package var capture = Defaults.capture
    package var shell = false
    package var passApiKey = false
    package var tz = Defaults.tz
    package var slotTime: String?
    package var exitCodes: [String] = []
    package var json = false
    package var quiet = false
    package var verbose = false
    package var key: String
    package var command: [String]

    package init(key: String, command: [String] = []) {
        self.key = key
        self.command = command
    }

    /// A command line that parses but asks for something impossible: the message names the
    /// option, as argument-parser's validation errors do.
    package struct Invalid: Error, Equatable, CustomStringConvertible {
        package var message: String
        package init(_ message: String) { self.message = message }
        package var description: String { message }
    }

    private func duration(_ text: String, _ flag: String) throws(Invalid) -> Duration {
        guard let d = DurationText.parse(text) else {
            throw Invalid("\(flag): cannot read \"\(text)\" as a duration (e.g. 30s, 5m, 1h30m)")
        }
        return d
    }

    /// The checked options, or the first problem found.
    package func makeOptions() throws(Invalid) -> ExecOptions {
        guard !command.isEmpty else { throw Invalid("missing COMMAND: use once-exec KEY -- COMMAND [ARG...]") }
        guard (1...2_592_000).contains(ttl) else { throw Invalid("--ttl must be 1-2592000 seconds") }
        guard (0...65536).contains(capture) else { throw Invalid("--capture must be 0-65536 bytes") }
        var expanded = key
        let template = KeyTemplate(key)
        if template.hasPlaceholders {
            // Only a templated key needs the zone and the slot's time (Foundation's time zone
            // and ISO 8601 parsers are not free at start-up).
            guard let zone = TimeZone(identifier: tz) else { throw Invalid("--tz: unknown time zone \(tz)") }
            let slot = try slotDate() ?? Date()
            do {
                expanded = try template.expand(at: slot, in: zone)
            } catch {
                throw Invalid(error.description)
            }
        } else {
            if tz != Defaults.tz, TimeZone(identifier: tz) == nil { throw Invalid("--tz: unknown time zone \(tz)") }
            _ = try slotDate()
        }
        if let issue = Rules.checkKey(expanded, loc: ["KEY"]) { throw Invalid("KEY: \(issue.msg)") }
        var options = ExecOptions(key: expanded, command: command)
        options.ttl = ttl
        if let heartbeat {
            let h = try duration(heartbeat, "--heartbeat")
            if h < .milliseconds(100) {
                throw Invalid("--heartbeat \(heartbeat): renewals need at least 100ms between them")
            }
            options.heartbeat = h
        }
        options.killAfter = try duration(killAfter, "--kill-after")
        // 0 means no limit, as for timeout(1): a templated `--max-runtime ${LIMIT:-0}` must not
        // kill every job at once.
        if let maxRuntime {
            let limit = try duration(maxRuntime, "--max-runtime")
            options.maxRuntime = limit == .zero ? nil : limit
        }
        if let wait {
            options.wait = wait == "forever" ? .seconds(100 * 365 * 86_400) : try duration(wait, "--wait")
        }
        let policy = SupervisorPolicy(ttl: .seconds(ttl), heartbeat: options.heartbeat, killAfter: options.killAfter)
        guard policy.safeWindow > policy.heartbeat else {
            let unforced = SupervisorPolicy(ttl: .seconds(ttl), killAfter: options.killAfter)
            if let heartbeat, unforced.safeWindow > unforced.heartbeat {
                throw Invalid(
                    "--heartbeat \(heartbeat) is too long for --ttl \(ttl): a renewal must come before the local deadline (\(DurationText.format(policy.safeWindow)) after the last one); lower --heartbeat or raise --ttl"
                )
            }
            throw Invalid(
                "--ttl \(ttl) is too short for --kill-after \(killAfter): the child must be stopped before the lease can lapse; raise --ttl or lower --kill-after"
            )
        }
        options.join = join
        if join && wait == nil { throw Invalid("--join needs --wait") }
        options.retryFailed = retryFailed
        options.replay = replay
        options.onLeaseLost = onLeaseLost
        options.ifUnreachable = ifUnreachable
        options.capture = capture
        options.shell = shell
        options.passAPIKey = passApiKey
        options.json = json
        options.quiet = quiet
        for spec in exitCodes {
            do {
                try options.exitCodes.apply(spec)
            } catch {
                throw Invalid(error.description)
            }
        }
        return options
    }

    /// `--slot-time`, read (nil without one).
    private func slotDate() throws(Invalid) -> Date? {
        guard let slotTime else { return nil }
        guard let parsed = ISO8601DateFormatter().date(from: slotTime) else {
            throw Invalid("--slot-time: cannot read \(slotTime) (use e.g. 2026-11-29T02:00:00Z)")
        }
        return parsed
    }
}
