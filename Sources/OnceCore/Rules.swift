/// The input rules shared by check-locks and leases (API §4, §5.2, §15 rows 4–6, 16).
public enum Rules {
    public static let maxKeyLength = 256
    public static let maxMetadataBytes = 2048
    public static let maxResultBytes = 256 * 1024
    public static let maxErrorCodeLength = 256
    public static let defaultMinTTL = 10

    /// Keys are any UTF-8 text of 1–256 characters (Unicode scalars, as Python counts them),
    /// matched exactly. NUL is refused so that every store (PostgreSQL text cannot hold it)
    /// treats keys the same.
    public static func checkKey(_ key: String, loc: [String]) -> FieldIssue? {
        let count = key.unicodeScalars.count
        if count == 0 {
            return FieldIssue(
                type: "string_too_short", loc: loc, msg: "String should have at least 1 character", input: .string(key))
        }
        if count > maxKeyLength {
            return FieldIssue(
                type: "string_too_long", loc: loc, msg: "String should have at most \(maxKeyLength) characters",
                input: .string(String(key.prefix(64)) + "…"))
        }
        return checkNoNUL(key, loc: loc)
    }

    /// Every text a store keeps refuses NUL, for the reason keys do: PostgreSQL text cannot hold
    /// it, and a request must mean the same on every store.
    public static func checkNoNUL(_ text: String, loc: [String]) -> FieldIssue? {
        guard text.unicodeScalars.contains("\u{0}") else { return nil }
        return FieldIssue(type: "string_pattern_mismatch", loc: loc, msg: "String must not contain NUL characters")
    }

    /// The TTL a request gets: the plan default when absent, else clamped to [minTTL, plan max].
    /// Whether the number is acceptable at all (positive integer) is the parser's job.
    public static func effectiveTTL(requested: Int64?, plan: Plan, minTTL: Int = defaultMinTTL) -> Int {
        let limits = plan.limits
        let floor = min(minTTL, limits.maxTTL)
        guard let requested else { return max(min(limits.defaultTTL, limits.maxTTL), floor) }
        let clamped = min(requested, Int64(limits.maxTTL))
        return max(Int(clamped), floor)
    }

    /// Metadata must be an object whose canonical form fits in 2048 bytes.
    public static func checkMetadata(_ metadata: JSONValue, loc: [String]) -> FieldIssue? {
        guard case .object = metadata else {
            return FieldIssue(type: "dict_type", loc: loc, msg: "Input should be a valid dictionary", input: metadata)
        }
        let size = metadata.canonicalText.utf8.count
        if size > maxMetadataBytes {
            return FieldIssue(
                type: "value_error", loc: loc,
                msg: "Value error, metadata is \(size) bytes serialized; at most \(maxMetadataBytes) are allowed")
        }
        return nil
    }

    public static func checkResult(_ result: JSONValue, loc: [String]) -> FieldIssue? {
        let size = result.canonicalText.utf8.count
        if size > maxResultBytes {
            return FieldIssue(
                type: "value_error", loc: loc,
                msg: "Value error, result is \(size) bytes serialized; at most \(maxResultBytes) are allowed")
        }
        return nil
    }
}
