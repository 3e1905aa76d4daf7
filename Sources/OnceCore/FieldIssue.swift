/// One validation problem, in the shape FastAPI uses for 422 answers
/// (`{"type": "missing", "loc": ["body", "key"], "msg": "Field required", "input": {}}`), which
/// the official clients already know how to show.
public struct FieldIssue: Sendable, Equatable, Error {
    public var type: String
    public var loc: [String]
    public var msg: String
    public var input: JSONValue?

    public init(type: String, loc: [String], msg: String, input: JSONValue? = nil) {
        self.type = type
        self.loc = loc
        self.msg = msg
        self.input = input
    }

    public static func missing(_ loc: [String], input: JSONValue? = nil) -> FieldIssue {
        FieldIssue(type: "missing", loc: loc, msg: "Field required", input: input)
    }

    public var json: JSONValue {
        .object([
            "type": .string(type),
            "loc": .array(loc.map { .string($0) }),
            "msg": .string(msg),
            "input": input ?? .null,
        ])
    }
}

/// Validation failed for one or more fields; nothing was changed.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var issues: [FieldIssue]
    public init(_ issues: [FieldIssue]) { self.issues = issues }
}
