import Hummingbird

/// `application/x-www-form-urlencoded` pairs, from a query string or a form body, in order and
/// with repeats (the events page's `type` filter is one checkbox per type). Decoded as
/// ``QueryReader`` decodes; a pair that is not UTF-8 is dropped.
package struct FormFields: Sendable {
    private(set) var pairs: [(name: String, value: String)] = []

    init(_ text: Substring?) {
        guard let text, !text.isEmpty else { return }
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = QueryReader.decode(parts[0]),
                let value = parts.count > 1 ? QueryReader.decode(parts[1]) : ""
            else { continue }
            pairs.append((name, value))
        }
    }

    init(query request: Request) {
        self.init(request.uri.query.map { Substring($0) })
    }

    /// The first value of `name`, trimmed; nil when absent or blank.
    subscript(name: String) -> String? {
        guard let value = pairs.first(where: { $0.name == name })?.value.trimmingCharacters(in: .whitespaces),
            !value.isEmpty
        else { return nil }
        return value
    }

    func all(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value).filter { !$0.isEmpty }
    }

    /// A query string (with its `?`) for links; empty values are left out.
    static func query(_ items: [(String, String?)]) -> String {
        let parts = items.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return "\(encode(name))=\(encode(value))"
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    /// Percent-encodes everything but unreserved characters (RFC 3986), so a value is safe in
    /// a query and in a path segment.
    package static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
