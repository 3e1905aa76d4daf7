import Foundation
import Logging
import OnceCore
import OnceEncoding
import Synchronization

/// How once-server writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-02T14:03:07.123Z info request method=GET route=/v1/me status=200 …`: for people
    /// and grep.
    case text
    /// One JSON object a line (`ts`, `level`, `message` and the metadata as strings): for log
    /// shippers.
    case json
}

/// A log handler that writes one line per record to standard error, as text or JSON. Lines
/// are written whole under a lock, so concurrent requests never interleave within a line.
public struct ServerLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let format: LogFormat
    let label: String
    let sink: @Sendable (String) -> Void

    public init(
        label: String, format: LogFormat, level: Logger.Level,
        sink: @escaping @Sendable (String) -> Void = ServerLogHandler.standardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        for (key, value) in event.metadata ?? [:] { all[key] = value }
        if let error = event.error { all["error"] = "\(error)" }
        sink(Self.line(format: format, level: event.level, message: "\(event.message)", metadata: all, now: Date()))
    }

    package static func line(
        format: LogFormat, level: Logger.Level, message: String, metadata: Logger.Metadata, now: Date
    )
        -> String
    {
        let ms = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let ts = String(Timestamp(milliseconds: ms).iso8601.dropLast()) + String(format: ".%03dZ", Int(ms % 1000))
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var line = "\(ts) \(level) \(message)"
            for key in keys {
                let value = "\(metadata[key]!)"
                let plain =
                    !value.isEmpty && !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline })
                line += " \(key)=" + (plain ? value : JSONValue.string(value).canonicalText)
            }
            return line
        case .json:
            var object: [String: JSONValue] = [:]
            for key in keys { object[key] = .string("\(metadata[key]!)") }
            object["ts"] = .string(ts)
            object["level"] = .string(level.rawValue)
            object["message"] = .string(message)
            return JSONValue.object(object).canonicalText
        }
    }

    private static let lock = Mutex(())

    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
