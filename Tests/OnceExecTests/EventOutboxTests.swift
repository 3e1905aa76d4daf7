import OnceCore
import OnceExec
import Testing

/// The outbox between the supervisor and its poster: held, then in order, then handed back.
@Suite("EventOutbox")
struct EventOutboxTests {
    static func event(_ n: Int) -> RunEvent {
        RunEvent(runId: "run-1", type: "e\(n)", ts: Timestamp(milliseconds: Int64(n)))
    }

    @Test("held events are not given to the poster; closing hands them back and ends the poster")
    func heldThenClosed() async {
        let outbox = EventOutbox()
        outbox.add(Self.event(1))
        outbox.add(Self.event(2))
        async let posted = outbox.next()
        // The poster waits (held); close gives it nil and returns both, in order.
        #expect(outbox.close().map(\.type) == ["e1", "e2"])
        #expect(await posted == nil)
        #expect(await outbox.next() == nil)
        outbox.add(Self.event(3))  // after the close: ignored
        #expect(outbox.close().isEmpty)
    }

    @Test("once open, events go to the poster in order; what it did not take is handed back")
    func openThenClosed() async {
        let outbox = EventOutbox()
        outbox.add(Self.event(1))
        outbox.open()
        #expect(await outbox.next()?.type == "e1")
        async let waiting = outbox.next()
        outbox.add(Self.event(2))
        #expect(await waiting?.type == "e2")
        outbox.add(Self.event(3))
        outbox.add(Self.event(4))
        #expect(await outbox.next()?.type == "e3")
        #expect(outbox.close().map(\.type) == ["e4"])
        #expect(await outbox.next() == nil)
    }
}
