import OnceCore
import OnceEncoding

/// How API keys look and how they are kept: `once_live_` and 32 random base-62 characters
/// (190 bits), stored only as SHA-256. A fast hash is enough because the secret is random and
/// long; a password hash would only slow every request.
public enum APIKeyMaterial {
    public static let prefix = "once_live_"
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return prefix + String((0..<32).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }

    public static func hash(_ key: String) -> String { SHA256.hex(key) }

    /// `once_live_ab…yz`: enough to tell keys apart in a list, too little to use.
    public static func preview(_ key: String) -> String {
        let body = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
        return prefix + String(body.prefix(2)) + "…" + String(body.suffix(2))
    }

    /// Random identifiers for leases (`lease_…`) and request ids.
    public static func randomToken(length: Int = 24) -> String {
        var out: [Character] = []
        out.reserveCapacity(length)
        var source = RandomBytes()
        while out.count < length {
            // 248 = 4 × 62: a byte below it picks a character uniformly; the rest are skipped.
            let byte = source.next()
            if byte < 248 { out.append(alphabet[Int(byte % 62)]) }
        }
        return String(out)
    }
}

extension APIKeyMaterial {
    /// `count` random lowercase hex digits (request ids: a UUID's entropy, no dashes).
    public static func randomHex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef")
        var out: [Character] = []
        out.reserveCapacity(count)
        var source = RandomBytes()
        while out.count < count {
            let byte = source.next()
            out.append(digits[Int(byte >> 4)])
            if out.count < count { out.append(digits[Int(byte & 0x0f)]) }
        }
        return String(out)
    }
}

/// Bytes of the system's generator, eight per draw: each `SystemRandomNumberGenerator.next()`
/// is a `getrandom` system call, and drawing one per character cost a request id 32 of them
/// (`strace -c` under load: about 43 calls per request before, 2 after).
struct RandomBytes {
    private var generator = SystemRandomNumberGenerator()
    private var word: UInt64 = 0
    private var left = 0

    mutating func next() -> UInt8 {
        if left == 0 {
            word = generator.next()
            left = 8
        }
        defer {
            word >>= 8
            left -= 1
        }
        return UInt8(truncatingIfNeeded: word)
    }
}
