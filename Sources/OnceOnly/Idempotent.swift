import Foundation
import OnceEncoding

extension OnceOnlyClient {
    /// Wraps `body` so each distinct call runs at most once per `ttl`, guarded by
    /// ``checkLock(key:ttl:meta:requestId:)`` (SDK.md §10.1).
    ///
    /// Per call the key is `keyPrefix + ":" + (key?(args) ?? derived)`, where the derived key is
    /// the TypeScript SDK's: SHA-256 of `{"v": keyVersion, "fn": name, "args": [JSON of each
    /// argument], "kwargs": {}}` (see ``idempotencyKey(name:arguments:keyVersion:)``), so a Swift
    /// and a TypeScript process wrapping the same function name with the same arguments share
    /// keys. Python derives keys differently; pass `key` for keys stable across all languages.
    ///
    /// A duplicate call returns `onDuplicate(args)` if given, else `nil`. A fail-open lock counts
    /// as locked (the body runs). Errors of the lock call propagate.
    ///
    /// ```swift
    /// let sendWelcome = client.idempotent(name: "sendWelcome") { (userId: String) in
    ///     try await mailer.sendWelcome(to: userId)
    /// }
    /// try await sendWelcome("user_123")   // sends
    /// try await sendWelcome("user_123")   // nil: already sent within 24 h
    /// ```
    ///
    /// - Parameters:
    ///   - name: The function identity in the derived key (TypeScript: `keyId ?? fn.name`).
    ///   - keyPrefix: Prefix of every key (default `func`).
    ///   - ttl: Lock lifetime in seconds (default 86400).
    ///   - keyVersion: Version tag in the derived key (default `v1`).
    ///   - key: Your own key from the arguments, instead of the derived one.
    ///   - onDuplicate: What a duplicate call returns instead of `nil`.
    ///   - body: The side effect.
    public func idempotent<each Arg: Encodable & Sendable, Output: Sendable>(
        name: String, keyPrefix: String = "func", ttl: Int = 86400, keyVersion: String = "v1",
        key: (@Sendable (repeat each Arg) -> String)? = nil,
        onDuplicate: (@Sendable (repeat each Arg) async throws -> Output?)? = nil,
        _ body: @escaping @Sendable (repeat each Arg) async throws -> Output
    ) -> @Sendable (repeat each Arg) async throws -> Output? {
        { (args: repeat each Arg) async throws -> Output? in
            let suffix: String
            if let key {
                suffix = key(repeat each args)
            } else {
                var arguments: [String] = []
                for arg in repeat each args { arguments.append(TypeScriptKey.stringifyArgument(arg)) }
                suffix = TypeScriptKey.derive(name: name, stringifiedArguments: arguments, keyVersion: keyVersion)
            }
            let lock = try await self.checkLock(key: keyPrefix + ":" + suffix, ttl: ttl)
            if lock.isDuplicate {
                return try await onDuplicate?(repeat each args)
            }
            return try await body(repeat each args)
        }
    }

    /// The key the TypeScript SDK derives for a function named `name` called with `arguments`
    /// (without the `keyPrefix:`): lowercase hex SHA-256 of
    /// `{"v":"<keyVersion>","fn":"<name>","args":[…],"kwargs":{}}`, each argument serialised as
    /// `JSON.stringify(arg, sortedTopLevelKeys(arg))`. That key list filters nested objects too:
    /// `{"b": 1, "a": {"c": 2}}` serialises as `{"a":{},"b":1}`.
    ///
    /// `idempotencyKey(name: "sendWelcome", arguments: ["user_123"])` is
    /// `0c2b80a9846735275c89dc4c2d094695dce86e68943df423ee80d9d95b779c74`.
    public static func idempotencyKey(name: String, arguments: [JSON], keyVersion: String = "v1") -> String {
        TypeScriptKey.derive(
            name: name, stringifiedArguments: arguments.map(TypeScriptKey.stringify), keyVersion: keyVersion)
    }

    /// Wraps `body` so it runs exactly once per `key` across processes through
    /// ``AIClient/runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:retryFailed:_:)``,
    /// and returns the stored ``AIResult`` (not `body`'s value) (SDK.md §10.2).
    ///
    /// ```swift
    /// let summarize = client.idempotentAI(key: { (ticket: String) in "summary:\(ticket)" }) { (ticket: String) in
    ///     try await llm.summarize(ticket)          // an Encodable value, stored as the result
    /// }
    /// let result = try await summarize("T-42")     // result.result holds the stored object
    /// ```
    ///
    /// - Parameters:
    ///   - key: The lease key for a call, from its arguments.
    ///   - ttl: Lease TTL in seconds (default 300).
    ///   - metadata: Lease metadata for a call, from its arguments.
    ///   - extendEvery: Seconds between heartbeats while `body` runs (default 30, at least 1).
    ///   - waitOnConflict: Wait for another holder's result (default) instead of answering
    ///     `not_acquired`.
    ///   - timeout: Seconds to wait for another holder (default 60).
    ///   - pollMin: Shortest wait between polls in seconds (default 0.5).
    ///   - pollMax: Longest wait between polls in seconds (default 5).
    ///   - errorCode: Error code stored when `body` throws (default `fn_error`).
    ///   - body: The work to run once; its value is stored as the result.
    public func idempotentAI<each Arg: Sendable, Output: Encodable & Sendable>(
        key: @escaping @Sendable (repeat each Arg) -> String, ttl: Int = 300,
        metadata: (@Sendable (repeat each Arg) -> JSONObject?)? = nil, extendEvery: Double = 30,
        waitOnConflict: Bool = true, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5,
        errorCode: String = "fn_error", _ body: @escaping @Sendable (repeat each Arg) async throws -> Output
    ) -> @Sendable (repeat each Arg) async throws -> AIResult {
        let ai = self.ai
        return { (args: repeat each Arg) async throws -> AIResult in
            try await ai.runFn(
                key: key(repeat each args), ttl: ttl, metadata: metadata?(repeat each args), extendEvery: extendEvery,
                waitOnConflict: waitOnConflict, timeout: timeout, pollMin: pollMin, pollMax: pollMax,
                errorCode: errorCode
            ) { try await body(repeat each args) }
        }
    }

    /// ``idempotentAI(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:_:)``
    /// with one fixed key for every call.
    public func idempotentAI<each Arg: Sendable, Output: Encodable & Sendable>(
        key: String, ttl: Int = 300, metadata: JSONObject? = nil, extendEvery: Double = 30,
        waitOnConflict: Bool = true, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5,
        errorCode: String = "fn_error", _ body: @escaping @Sendable (repeat each Arg) async throws -> Output
    ) -> @Sendable (repeat each Arg) async throws -> AIResult {
        idempotentAI(
            key: { (_: repeat each Arg) in key }, ttl: ttl, metadata: { (_: repeat each Arg) in metadata },
            extendEvery: extendEvery, waitOnConflict: waitOnConflict, timeout: timeout, pollMin: pollMin,
            pollMax: pollMax, errorCode: errorCode, body)
    }
}

/// The TypeScript SDK's idempotency-key derivation (SDK.md §10.1).
enum TypeScriptKey {
    static func derive(name: String, stringifiedArguments: [String], keyVersion: String) -> String {
        var payload = "{\"v\":"
        JSONText.writeString(keyVersion, into: &payload)
        payload += ",\"fn\":"
        JSONText.writeString(name, into: &payload)
        payload += ",\"args\":["
        for (i, argument) in stringifiedArguments.enumerated() {
            if i > 0 { payload += "," }
            JSONText.writeString(argument, into: &payload)
        }
        payload += "],\"kwargs\":{}}"
        return SHA256.hex(Array(payload.utf8))
    }

    /// `JSON.stringify(arg, sortedTopLevelKeys(arg))`, or `String(arg)` cut to 2048 characters
    /// plus `...` when the value cannot be encoded. `Date` encodes as `toISOString()` and `Data`
    /// as Node's `Buffer.toJSON()` does, so both give the TypeScript key of the same value. (A
    /// Buffer's top-level keys are its indices, which filter away `type` and `data`: every `Data`
    /// argument stringifies as `{}`, in TypeScript as here.)
    static func stringifyArgument(_ argument: some Encodable) -> String {
        guard let json = try? JSONCoding.json(encoding: argument, data: .nodeBuffer) else {
            let text = String(describing: argument)
            return text.count > 2048 ? String(text.prefix(2048)) + "..." : text
        }
        // The key list is taken from the argument itself: a Buffer's keys are its indices, not
        // the `type` and `data` of its JSON form.
        if let bytes = argument as? Data { return stringify(json, topLevelKeys: (0..<bytes.count).map { String($0) }) }
        return stringify(json)
    }

    static func stringify(_ value: JSON) -> String {
        switch value {
        case .object(let members): stringify(value, topLevelKeys: Array(members.keys))
        case .array(let items): stringify(value, topLevelKeys: items.indices.map(String.init))
        default: stringify(value, topLevelKeys: nil)
        }
    }

    /// `JSON.stringify(value, topLevelKeys.sort())`.
    private static func stringify(_ value: JSON, topLevelKeys: [String]?) -> String {
        let whitelist = topLevelKeys?.sorted(by: JSON.utf16Less)
        var out = ""
        write(value, whitelist: whitelist, to: &out)
        return out
    }

    /// `JSON.stringify` with an array replacer: at every depth, objects keep only the listed
    /// members, in list order.
    private static func write(_ value: JSON, whitelist: [String]?, to out: inout String) {
        switch value {
        case .object(let members):
            out += "{"
            var first = true
            for name in whitelist ?? members.keys.sorted(by: JSON.utf16Less) {
                guard let member = members[name] else { continue }
                if !first { out += "," }
                first = false
                JSONText.writeString(name, into: &out)
                out += ":"
                write(member, whitelist: whitelist, to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, whitelist: whitelist, to: &out)
            }
            out += "]"
        default:
            value.writeTypeScriptText(into: &out)
        }
    }
}
