/// The start-up fast path: reads the common `run [options] KEY -- COMMAND...` line without
/// argument-parser.
///
/// argument-parser builds its model of every option by reflection (`Mirror`, type lookups by
/// mangled name, protocol conformance scans over the whole binary): under callgrind that was
/// 37 of the 62 million instructions of a whole local run. This parser knows the run options
/// by name and answers only lines it reads exactly as argument-parser would; for anything else
/// (help, an unknown or repeated option, a missing value, grouped short flags, a second
/// positional) it returns nil and argument-parser runs as before, with its own messages.
package enum RunArgumentsParser {
    /// The run options by their long names (and `-q`, `-v`).
    private enum Name: String {
        case server = "--server", state = "--state", busyTimeout = "--busy-timeout", ttl = "--ttl"
        case heartbeat = "--heartbeat", killAfter = "--kill-after", maxRuntime = "--max-runtime"
        case wait = "--wait", join = "--join", retryFailed = "--retry-failed", replay = "--replay"
        case onLeaseLost = "--on-lease-lost", ifUnreachable = "--if-unreachable", capture = "--capture"
        case shell = "--shell", passApiKey = "--pass-api-key", tz = "--tz", slotTime = "--slot-time"
        case exitCode = "--exit-code", json = "--json", quiet = "--quiet", verbose = "--verbose"

        init?(word: String) {
            switch word {
            case "-q": self = .quiet
            case "-v": self = .verbose
            default: self.init(rawValue: word)
            }
        }

        /// Sets a flag; false when this option takes a value.
        func set(in a: inout RunArguments) -> Bool {
            switch self {
            case .join: a.join = true
            case .retryFailed: a.retryFailed = true
            case .replay: a.replay = true
            case .shell: a.shell = true
            case .passApiKey: a.passApiKey = true
            case .json: a.json = true
            case .quiet: a.quiet = true
            case .verbose: a.verbose = true
            case .server, .state, .busyTimeout, .ttl, .heartbeat, .killAfter, .maxRuntime, .wait, .onLeaseLost,
                .ifUnreachable, .capture, .tz, .slotTime, .exitCode:
                return false
            }
            return true
        }

        /// Stores an option's value; false when argument-parser would refuse it (or for a flag).
        func set(_ value: String, in a: inout RunArguments) -> Bool {
            switch self {
            case .server: a.server = value
            case .state: a.state = value
            case .busyTimeout: a.busyTimeout = value
            case .heartbeat: a.heartbeat = value
            case .killAfter: a.killAfter = value
            case .maxRuntime: a.maxRuntime = value
            case .wait: a.wait = value
            case .tz: a.tz = value
            case .slotTime: a.slotTime = value
            case .exitCode: a.exitCodes.append(value)
            case .ttl:
                guard let n = Int(value) else { return false }
                a.ttl = n
            case .capture:
                guard let n = Int(value) else { return false }
                a.capture = n
            case .onLeaseLost:
                guard let p = LeaseLossPolicy(rawValue: value) else { return false }
                a.onLeaseLost = p
            case .ifUnreachable:
                guard let p = UnreachablePolicy(rawValue: value) else { return false }
                a.ifUnreachable = p
            case .join, .retryFailed, .replay, .shell, .passApiKey, .json, .quiet, .verbose:
                return false
            }
            return true
        }
    }

    /// The arguments of a normalised command line (``OnceExecCommand``'s `normalise`: `run`
    /// first, then the options and KEY, then `--` and COMMAND), or nil to let argument-parser
    /// read it.
    package static func parse(_ arguments: [String]) -> RunArguments? {
        guard arguments.first == "run", let terminator = arguments.firstIndex(of: "--") else { return nil }
        let command = Array(arguments[(terminator + 1)...])
        var key: String?
        var result = RunArguments(key: "", command: command)
        var seen: [Name] = []
        var i = 1
        while i < terminator {
            let word = arguments[i]
            i += 1
            guard word.hasPrefix("-") else {
                // One KEY; a second positional is argument-parser's "unexpected argument".
                guard key == nil else { return nil }
                key = word
                continue
            }
            var name = word
            var inline: String?
            if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inline = String(word[word.index(after: equals)...])
            }
            guard let option = Name(word: name) else { return nil }
            // Only --exit-code repeats; argument-parser's rule for a repeated single option is
            // not this parser's to guess.
            if option != .exitCode {
                guard !seen.contains(option) else { return nil }
                seen.append(option)
            }
            if inline == nil, option.set(in: &result) { continue }
            let value: String
            if let inline {
                value = inline
            } else {
                // A value that looks like an option is argument-parser's to judge.
                guard i < terminator, !arguments[i].hasPrefix("-") else { return nil }
                value = arguments[i]
                i += 1
            }
            guard option.set(value, in: &result) else { return nil }
        }
        guard let key, !key.isEmpty else { return nil }
        result.key = key
        return result
    }
}
