import OnceCore

/// `run_events` on complete, fail and cancel: once-server's extension that lets a holder send
/// the end of its run's timeline with the finish (once-exec: `child_exited` and the history
/// record), written in the finish's transaction under the lease's `metadata.run_id`, only if
/// the finish applied. Official clients never send it, and their answers stay as they were.
///
/// Each element is checked like a `POST /v1/events` body (the same limits), and an issue names
/// its place (`["body", "run_events", "1", "type"]`), so a bad element is a 422 and nothing,
/// not even the finish, is done.
enum RunEventsField {
    static let name = "run_events"
    /// The answer's acknowledgement: how many of them were written (0 for a refused or
    /// replayed finish, or a lease without a run id); present only when the request sent them.
    static let acknowledgement = "run_events_recorded"
    /// Enough for once-exec's few, small enough that one request stays one short transaction.
    static let maxCount = 32

    /// The field, or nil when absent / null.
    static func read(_ body: inout BodyReader) -> [AttachedRunEvent]? {
        guard let value = body.members[name], !value.isNull else { return nil }
        guard case .array(let items) = value else {
            body.add(
                FieldIssue(type: "list_type", loc: ["body", name], msg: "Input should be a valid list", input: value))
            return nil
        }
        if items.count > maxCount {
            body.add(
                FieldIssue(
                    type: "too_long", loc: ["body", name],
                    msg: "List should have at most \(maxCount) items after validation, not \(items.count)"))
            return nil
        }
        var events: [AttachedRunEvent] = []
        for (index, item) in items.enumerated() {
            let loc = ["body", name, String(index)]
            guard case .object(let members) = item else {
                body.add(
                    FieldIssue(type: "dict_type", loc: loc, msg: "Input should be a valid dictionary", input: item))
                continue
            }
            var element = BodyReader(members: members)
            let type = element.string("type", required: true, maxLength: 128, nonBlank: true)
            let status = element.string("status", maxLength: 128)
            let message = element.string("message", maxLength: 4096)
            let data = element.object("data")
            if let data, data.canonicalText.utf8.count > 16 * 1024 {
                element.add(
                    FieldIssue(
                        type: "value_error", loc: ["body", "data"],
                        msg: "Value error, data is larger than 16384 bytes serialized"))
            }
            // The element's issues, placed under run_events[index] instead of the body.
            for var issue in element.issues {
                issue.loc = loc + issue.loc.dropFirst()
                body.add(issue)
            }
            if element.issues.isEmpty, let type {
                events.append(AttachedRunEvent(type: type, status: status, message: message, data: data))
            }
        }
        return events
    }
}
