import Foundation
import Testing

@testable import OnceOnly

@Suite("idempotent and idempotentAI helpers")
struct IdempotentTests {
    @Test("TypeScript key derivation: the official test vector")
    func testVector() {
        #expect(
            OnceOnlyClient.idempotencyKey(name: "sendWelcome", arguments: ["user_123"])
                == "0c2b80a9846735275c89dc4c2d094695dce86e68943df423ee80d9d95b779c74")
    }

    @Test(
        "arguments stringify like JSON.stringify(arg, sortedTopLevelKeys(arg))",
        arguments: [
            (JSON.object(["b": 1, "a": ["c": 2]]), #"{"a":{},"b":1}"#),
            ([["a": 1]], "[{}]"),
            (["a": ["a": 1, "z": 2], "b": [["b": true]]], #"{"a":{"a":1},"b":[{"b":true}]}"#),
            ("user_123", #""user_123""#),
            ("line\n\"quote\" / é", #""line\n\"quote\" / é""#),
            (1.0, "1"),
            (0.5, "0.5"),
            (nil, "null"),
            ([1, "x", nil], #"[1,"x",null]"#),
        ] as [(JSON, String)])
    func stringify(argument: JSON, expected: String) {
        #expect(TypeScriptKey.stringify(argument) == expected)
    }

    @Test("Encodable arguments go through JSONEncoder first")
    func encodableArguments() {
        struct User: Encodable { let id: String; let tags: [String] }
        #expect(TypeScriptKey.stringifyArgument(User(id: "u1", tags: ["a"])) == #"{"id":"u1","tags":["a"]}"#)
        #expect(TypeScriptKey.stringifyArgument("user_123") == #""user_123""#)
        #expect(TypeScriptKey.stringifyArgument(Optional<Int>.none) == "null")
    }

    // Computed once with Node v20.20.2 (Debian's nodejs), as the TypeScript SDK derives them:
    //   const keysOf = a => (a !== null && typeof a === "object" ? Object.keys(a).sort() : undefined);
    //   const arg = a => JSON.stringify(a, keysOf(a));
    //   sha256(JSON.stringify({v: "v1", fn, args: args.map(arg), kwargs: {}}))
    // with d = new Date(Date.UTC(2026, 2, 1, 12, 30, 45, 123)) (1772368245123 ms).
    static let date = Date(timeIntervalSince1970: 1_772_368_245.123)
    /// `remind(d)`
    static let dateKey = "ac39d32c9b95424fd2f8bfd20190873f11f681eb975a6a728cc43d5496314a15"
    /// `remind({at: d, id: "u1"})`
    static let nestedDateKey = "b0b8b49cebc2a91a2cffd2935b851113201749ac1a18ddcc256dc8dbec53b685"
    /// `upload(Buffer.from([1, 2, 3]))`
    static let bufferKey = "95f060aa90629d07ba173e0f72cbff9f34ad044ea3a09506727eb54034095b54"

    @Test("Date and Data arguments stringify as JSON.stringify does in Node")
    func dateAndDataArguments() {
        struct Reminder: Encodable { let at: Date; let id: String }
        struct Upload: Encodable { let blob: Data }
        #expect(TypeScriptKey.stringifyArgument(Self.date) == #""2026-03-01T12:30:45.123Z""#)
        #expect(
            TypeScriptKey.stringifyArgument(Reminder(at: Self.date, id: "u1"))
                == #"{"at":"2026-03-01T12:30:45.123Z","id":"u1"}"#)
        // A Buffer's own keys are its indices, which filter its {type, data} form away.
        #expect(TypeScriptKey.stringifyArgument(Data([1, 2, 3])) == "{}")
        #expect(TypeScriptKey.stringifyArgument(Upload(blob: Data([1, 2]))) == #"{"blob":{}}"#)
        #expect(TypeScriptKey.stringifyArgument(Date(timeIntervalSince1970: -0.001)) == #""1969-12-31T23:59:59.999Z""#)
        #expect(
            TypeScriptKey.stringifyArgument(Date(timeIntervalSince1970: -62_198_755_200))
                == #""-000001-01-01T00:00:00.000Z""#)
        #expect(
            TypeScriptKey.stringifyArgument(Date(timeIntervalSince1970: 253_402_300_800))
                == #""+010000-01-01T00:00:00.000Z""#)
    }

    @Test("the derived keys of Date and Data arguments are the TypeScript SDK's (Node vectors)")
    func dateAndDataKeys() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let remind = client.idempotent(name: "remind") { (_: Date) in "sent" }
            #expect(try await remind(Self.date) == "sent")
            #expect(try await client.checkLock(key: "func:" + Self.dateKey).isDuplicate)
            struct Reminder: Encodable, Sendable { let at: Date; let id: String }
            let remindUser = client.idempotent(name: "remind") { (_: Reminder) in "sent" }
            #expect(try await remindUser(Reminder(at: Self.date, id: "u1")) == "sent")
            #expect(try await client.checkLock(key: "func:" + Self.nestedDateKey).isDuplicate)
            let upload = client.idempotent(name: "upload") { (_: Data) in "stored" }
            #expect(try await upload(Data([1, 2, 3])) == "stored")
            #expect(try await client.checkLock(key: "func:" + Self.bufferKey).isDuplicate)
            #expect(try await upload(Data([9])) == nil, "as in TypeScript, every Data argument derives the same key")
        }
    }

    @Test("idempotent runs the body once per distinct arguments; duplicates return nil or onDuplicate")
    func idempotent() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let sent = Locked<[String]>([])
            let sendWelcome = client.idempotent(name: "sendWelcome") { (userId: String) -> String in
                sent.withValue { $0.append(userId) }
                return "sent to \(userId)"
            }
            #expect(try await sendWelcome("user_123") == "sent to user_123")
            #expect(try await sendWelcome("user_123") == nil)
            #expect(try await sendWelcome("user_456") == "sent to user_456")
            #expect(sent.current == ["user_123", "user_456"])

            // The lock key is the TypeScript one, so a TypeScript process would see a duplicate.
            let vector = try await client.checkLock(
                key: "func:0c2b80a9846735275c89dc4c2d094695dce86e68943df423ee80d9d95b779c74")
            #expect(vector.isDuplicate)

            let charge = client.idempotent(
                name: "charge", keyPrefix: "pay", ttl: 60, key: { (invoice: String, _: Int) in invoice },
                onDuplicate: { (invoice: String, _: Int) in "already charged \(invoice)" }
            ) { (invoice: String, cents: Int) in "charged \(invoice) \(cents)" }
            #expect(try await charge("INV-1", 100) == "charged INV-1 100")
            #expect(try await charge("INV-1", 200) == "already charged INV-1")
            #expect(try await client.checkLock(key: "pay:INV-1").isDuplicate)
        }
    }

    @Test("idempotent proceeds when the lock fails open, and propagates other lock errors")
    func idempotentFailOpen() async throws {
        try await withScriptedServer(fallback: { _ in .json(500, ["detail": "boom"]) }) { server in
            let runs = Locked(0)
            let open = try server.client().idempotent(name: "f") { () -> Int in
                runs.withValue {
                    $0 += 1; return $0
                }
            }
            #expect(try await open() == 1)
            #expect(try await open() == 2)
            let strict = try server.client(failOpen: false).idempotent(name: "f") { () -> Int in 0 }
            await #expect(throws: OnceOnlyError.self) { try await strict() }
        }
    }

    @Test("idempotentAI returns the stored AIResult and runs the body once per key")
    func idempotentAI() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let runs = Locked(0)
            let summarize = client.idempotentAI(
                key: { (ticket: String) in "summary:\(ticket)" }, ttl: 60,
                metadata: { (ticket: String) in ["ticket": .string(ticket)] }
            ) { (ticket: String) -> JSON in
                runs.withValue { $0 += 1 }
                return ["ticket": .string(ticket), "summary": "short"]
            }
            let first = try await summarize("T-42")
            #expect(first.status == "completed" && first.result == ["ticket": "T-42", "summary": "short"])
            #expect(try await summarize("T-42") == first)
            _ = try await summarize("T-43")
            #expect(runs.current == 2)

            let fixed = client.idempotentAI(key: "nightly-report") { () -> String in
                runs.withValue { $0 += 1 }
                return "done"
            }
            #expect(try await fixed().result == ["value": "done"])
            #expect(try await fixed().result == ["value": "done"])
            #expect(runs.current == 3)
        }
    }
}
