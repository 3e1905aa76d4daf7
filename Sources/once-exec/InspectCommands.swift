import ArgumentParser
import Foundation
import OnceCore
import OnceExec

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show KEY's state and its last run's record.")

    @OptionGroup var backend: BackendOptions

    @Option(help: ArgumentHelp("Time zone for placeholders in KEY.", valueName: "zone"))
    var tz = "UTC"

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(help: "The key (placeholders expand to the current slot).")
    var key: String

    func run() async throws {
        guard let zone = TimeZone(identifier: tz) else { throw ValidationError("--tz: unknown time zone \(tz)") }
        let expanded: String
        do { expanded = try KeyTemplate(key).expand(at: Date(), in: zone) } catch {
            throw ValidationError(error.description)
        }
        let backend = try await self.backend.make()
        let status: KeyStatus?
        do {
            status = try await backend.status(key: expanded)
        } catch {
            FileHandle.standardError.write(Data("once-exec: \(error)\n".utf8))
            throw ExitCode(error.inspectionExitCode)
        }
        guard let status else {
            if json {
                print(JSONValue.object(["key": .string(expanded), "status": .string("absent")]).canonicalText)
            } else {
                print("\(expanded): never run (no record)")
            }
            return
        }
        // An expired lease reads "failed" on the wire, but the next run takes the key without
        // --retry-failed: call it what it is.
        let state = status.status == "failed" && status.errorCode == "lease_expired" ? "expired" : status.status
        if json {
            var o: [String: JSONValue] = [
                "key": .string(expanded), "status": .string(state), "fence": .int(status.version),
                "error_code": status.errorCode.map { .string($0) } ?? .null,
                "done_at": status.doneAt.map { .string($0) } ?? .null,
                "started_at": status.firstSeenAt.map { .string($0) } ?? .null,
                "ttl_left": status.ttlLeft.map { .int(Int64($0)) } ?? .null,
            ]
            o["run"] = status.result ?? .null
            print(JSONValue.object(o).canonicalText)
            return
        }
        print("\(expanded): \(state) (fence \(status.version))")
        if let started = status.firstSeenAt { print("  started:  \(started)") }
        if let done = status.doneAt { print("  finished: \(done)") }
        if let left = status.ttlLeft { print("  lease:    \(left)s left") }
        if let code = status.errorCode { print("  error:    \(code)") }
        if let run = StoredRun(status.result) {
            if let host = run.host { print("  host:     \(host)") }
            print("  exit:     \(run.shellCode)")
            if let d = run.durationText { print("  took:     \(d)") }
            if let id = run.runId { print("  run id:   \(id)  (once-exec timeline \(id))") }
            if case .array(let argv)? = run.json["argv"] {
                print("  command:  " + argv.compactMap(\.stringValue).joined(separator: " "))
            }
            for (label, tail) in [("stdout", run.stdoutTail), ("stderr", run.stderrTail)] {
                guard let tail, !tail.isEmpty else { continue }
                let lines = tail.split(separator: "\n", omittingEmptySubsequences: false)
                let shown = (lines.last == "" ? lines.dropLast() : lines[...]).suffix(10)
                print("  \(label) (last \(shown.count) line\(shown.count == 1 ? "" : "s")):")
                for line in shown { print("    | \(line)") }
            }
        }
    }
}

struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline", abstract: "Show a run's timeline of events (by run id, or the last run of --key).")

    @OptionGroup var backend: BackendOptions

    @Option(help: "Show the last run of this key instead of a run id.")
    var key: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(help: "The run id (ONCE_RUN_ID of the run).")
    var runId: String?

    func run() async throws {
        let backend = try await self.backend.make()
        var id = runId
        if id == nil, let key {
            let status = try? await backend.status(key: key)
            id = StoredRun(status?.result)?.runId
            guard id != nil else { throw ValidationError("no finished run with a record for \(key)") }
        }
        guard let id else { throw ValidationError("give a RUN-ID or --key KEY") }
        let events: [StoredEvent]
        do {
            events = try await backend.timeline(runId: id)
        } catch {
            FileHandle.standardError.write(Data("once-exec: \(error)\n".utf8))
            throw ExitCode(error.inspectionExitCode)
        }
        if json {
            print(
                JSONValue.object([
                    "run_id": .string(id),
                    "events": .array(
                        events.map {
                            .object([
                                "id": .int($0.id), "ts": .int($0.ts), "type": .string($0.type),
                                "status": $0.status.map { .string($0) } ?? .null,
                                "message": $0.message.map { .string($0) } ?? .null, "data": $0.data ?? .null,
                            ])
                        }),
                ]).canonicalText)
            return
        }
        if events.isEmpty { print("\(id): no events") }
        for e in events {
            let time = Timestamp(seconds: e.ts).iso8601
            var line = "\(time)  \(e.type)"
            if let s = e.status { line += "  [\(s)]" }
            if let m = e.message { line += "  \(m)" }
            print(line)
        }
    }
}
