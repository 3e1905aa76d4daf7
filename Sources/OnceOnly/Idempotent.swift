import Foundation

extension OnceOnly {
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
    /// ``AIClient/runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:_:)``,
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
        JSON.writeString(keyVersion, to: &payload)
        payload += ",\"fn\":"
        JSON.writeString(name, to: &payload)
        payload += ",\"args\":["
        for (i, argument) in stringifiedArguments.enumerated() {
            if i > 0 { payload += "," }
            JSON.writeString(argument, to: &payload)
        }
        payload += "],\"kwargs\":{}}"
        return SHA256.hex(Array(payload.utf8))
    }

    /// `JSON.stringify(arg, sortedTopLevelKeys(arg))`, or `String(arg)` cut to 2048 characters
    /// plus `...` when the value cannot be encoded.
    static func stringifyArgument(_ argument: some Encodable) -> String {
        guard let json = try? JSON(encoding: argument) else {
            let text = String(describing: argument)
            return text.count > 2048 ? String(text.prefix(2048)) + "..." : text
        }
        return stringify(json)
    }

    static func stringify(_ value: JSON) -> String {
        let whitelist: [String]?
        switch value {
        case .object(let members): whitelist = members.keys.sorted(by: JSON.utf16Less)
        case .array(let items): whitelist = items.indices.map(String.init).sorted(by: JSON.utf16Less)
        default: whitelist = nil
        }
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
                JSON.writeString(name, to: &out)
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
            value.write(to: &out)
        }
    }
}

/// SHA-256 (FIPS 180-4) for the derived idempotency keys; Foundation has none on Linux and the
/// SDK takes no dependencies.
enum SHA256 {
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    static func hex(_ message: [UInt8]) -> String {
        var state: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        var padded = message + [0x80]
        padded += [UInt8](repeating: 0, count: (120 - padded.count % 64) % 64)
        let bits = UInt64(message.count) &* 8
        padded += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64($0))) }
        var schedule = [UInt32](repeating: 0, count: 64)
        for block in stride(from: 0, to: padded.count, by: 64) {
            for t in 0..<16 {
                schedule[t] = padded[block + 4 * t..<block + 4 * t + 4].reduce(0) { $0 << 8 | UInt32($1) }
            }
            for t in 16..<64 {
                let s0 = rotate(schedule[t - 15], 7) ^ rotate(schedule[t - 15], 18) ^ (schedule[t - 15] >> 3)
                let s1 = rotate(schedule[t - 2], 17) ^ rotate(schedule[t - 2], 19) ^ (schedule[t - 2] >> 10)
                schedule[t] = schedule[t - 16] &+ s0 &+ schedule[t - 7] &+ s1
            }
            var v = state
            for t in 0..<64 {
                let choose = (v[4] & v[5]) ^ (~v[4] & v[6])
                let sum1 = rotate(v[4], 6) ^ rotate(v[4], 11) ^ rotate(v[4], 25)
                let t1 = v[7] &+ sum1 &+ choose &+ roundConstants[t] &+ schedule[t]
                let majority = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2])
                let sum0 = rotate(v[0], 2) ^ rotate(v[0], 13) ^ rotate(v[0], 22)
                v = [t1 &+ sum0 &+ majority, v[0], v[1], v[2], v[3] &+ t1, v[4], v[5], v[6]]
            }
            for i in 0..<8 { state[i] &+= v[i] }
        }
        return state.map { word in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 8 - text.count) + text
        }.joined()
    }

    private static func rotate(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
}
