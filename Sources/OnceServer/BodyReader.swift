import Foundation
import Hummingbird
import OnceCore

/// Reads a JSON object body field by field, collecting FastAPI-style issues instead of
/// stopping at the first, so one 422 names every bad field and nothing reaches the store.
struct BodyReader {
    let members: [String: JSONValue]
    private(set) var issues: [FieldIssue] = []

    /// Collects at most `limit` bytes and parses them; fails with 413 or 422.
    static func read(_ request: Request, limit: Int) async throws -> BodyReader {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError.bodyTooLarge(limit: limit)
        }
        if buffer.readableBytes == 0 {
            throw APIError.invalid(FieldIssue(type: "missing", loc: ["body"], msg: "Field required", input: .null))
        }
        return try parse(buffer)
    }

    /// Parses collected bytes as a JSON object; 422 otherwise.
    static func parse(_ buffer: ByteBuffer) throws -> BodyReader {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.invalid(
                FieldIssue(
                    type: "json_invalid", loc: ["body"],
                    msg: "JSON decode error: the body is not valid JSON in UTF-8"))
        }
        guard case .object(let members) = value else {
            throw APIError.invalid(
                FieldIssue(
                    type: "model_attributes_type", loc: ["body"],
                    msg: "Input should be a valid dictionary or object to extract fields from", input: value))
        }
        return BodyReader(members: members)
    }

    init(members: [String: JSONValue]) { self.members = members }

    /// Throws the collected issues, if any.
    func finish() throws {
        if !issues.isEmpty { throw APIError.validation(issues) }
    }

    mutating func add(_ issue: FieldIssue?) {
        if let issue { issues.append(issue) }
    }

    private var bodyInput: JSONValue { .object(members) }

    mutating func string(_ name: String, required: Bool = false, maxLength: Int? = nil, nonBlank: Bool = false)
        -> String?
    {
        guard let value = members[name], !value.isNull else {
            if required { issues.append(.missing(["body", name], input: bodyInput)) }
            return nil
        }
        guard case .string(let s) = value else {
            issues.append(
                FieldIssue(
                    type: "string_type", loc: ["body", name], msg: "Input should be a valid string", input: value))
            return nil
        }
        if nonBlank, s.allSatisfy(\.isWhitespace) {
            issues.append(
                FieldIssue(
                    type: "string_too_short", loc: ["body", name], msg: "String should not be empty or blank",
                    input: value))
            return nil
        }
        if let maxLength, s.unicodeScalars.count > maxLength {
            issues.append(
                FieldIssue(
                    type: "string_too_long", loc: ["body", name],
                    msg: "String should have at most \(maxLength) characters"))
            return nil
        }
        if let issue = Rules.checkNoNUL(s, loc: ["body", name]) {
            issues.append(issue)
            return nil
        }
        return s
    }

    /// An integer; a float with no fractional part counts (as pydantic's lax mode does).
    mutating func int(_ name: String, required: Bool = false, minimum: Int64? = nil) -> Int64? {
        guard let value = members[name], !value.isNull else {
            if required { issues.append(.missing(["body", name], input: bodyInput)) }
            return nil
        }
        let n: Int64
        switch value {
        case .int(let i):
            n = Int64(i)
        case .double(let d) where d.isFinite && d == d.rounded() && abs(d) < 9.2e18:
            n = Int64(d)
        case .double:
            issues.append(
                FieldIssue(
                    type: "int_from_float", loc: ["body", name], msg: "Input should be a valid integer", input: value))
            return nil
        default:
            issues.append(
                FieldIssue(type: "int_type", loc: ["body", name], msg: "Input should be a valid integer", input: value))
            return nil
        }
        if let minimum, n < minimum {
            issues.append(
                FieldIssue(
                    type: minimum == 1 ? "greater_than" : "greater_than_equal", loc: ["body", name],
                    msg: minimum == 1
                        ? "Input should be greater than 0" : "Input should be greater than or equal to \(minimum)",
                    input: value))
            return nil
        }
        return n
    }

    mutating func bool(_ name: String) -> Bool? {
        guard let value = members[name], !value.isNull else { return nil }
        guard case .bool(let b) = value else {
            issues.append(
                FieldIssue(
                    type: "bool_type", loc: ["body", name], msg: "Input should be a valid boolean", input: value))
            return nil
        }
        return b
    }

    /// A JSON object (or absent / null).
    mutating func object(_ name: String) -> JSONValue? {
        guard let value = members[name], !value.isNull else { return nil }
        guard case .object = value else {
            issues.append(
                FieldIssue(
                    type: "dict_type", loc: ["body", name], msg: "Input should be a valid dictionary", input: value))
            return nil
        }
        return value
    }

    /// The lease / check-lock key: required, 1–256 characters.
    mutating func key() -> String? {
        guard let key = string("key", required: true) else { return nil }
        if let issue = Rules.checkKey(key, loc: ["body", "key"]) {
            issues.append(issue)
            return nil
        }
        return key
    }

    /// `ttl`: a positive integer when present.
    mutating func ttl() -> Int64? { int("ttl", minimum: 1) }

    mutating func metadata() -> JSONValue? {
        guard let value = members["metadata"], !value.isNull else { return nil }
        if let issue = Rules.checkMetadata(value, loc: ["body", "metadata"]) {
            issues.append(issue)
            return nil
        }
        return value
    }

    /// `result` of complete and fail: any JSON within the size cap, or absent / null.
    mutating func result() -> JSONValue? {
        guard let value = members["result"], !value.isNull else { return nil }
        add(Rules.checkResult(value, loc: ["body", "result"]))
        return value
    }
}
