import OnceCore
import OnceEncoding

/// How the dashboard shows values. Everything here returns plain text; the templates escape it.
enum DashboardFormat {
    /// `2026-12-02 14:03:07Z`: ISO 8601 with a space, easier to read in a table.
    static func time(_ ts: Timestamp) -> String {
        ts.iso8601.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: ".000Z", with: "Z")
    }

    static func duration(milliseconds ms: Int64?) -> String {
        guard let ms else { return "" }
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return String(format: "%.1f s", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return "\(s / 60) m \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) m"
    }

    /// Indented JSON with sorted keys; strings escaped as the API writes them.
    static func prettyJSON(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 1, into: &out)
                out += i < items.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            let keys = members.keys.sorted()
            for (i, key) in keys.enumerated() {
                out += pad
                JSONText.writeString(key, into: &out)
                out += ": "
                write(members[key]!, indent: indent + 1, into: &out)
                out += i < keys.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "}"
        default:
            out += value.canonicalText
        }
    }

    /// A one-line summary of an object's fields for table cells (`a=1 b="x"`), cut at `limit`.
    static func fields(_ members: [String: JSONValue], limit: Int = 160) -> String {
        let text: String = members.keys.sorted().map { key -> String in
            let value = members[key]!
            return "\(key)=\(value.stringValue ?? value.canonicalText)"
        }.joined(separator: " ")
        return text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }

    /// Whether a run event reads as a failure: its status, or a type that names one.
    static func isError(type: String, status: String?) -> Bool {
        let failing: Set<String> = ["failed", "error", "timeout", "lost", "canceled", "interrupted", "blocked"]
        if let status, failing.contains(status.lowercased()) { return true }
        let t = type.lowercased()
        return ["fail", "error", "lost", "killed", "exceeded"].contains { t.contains($0) }
    }
}
