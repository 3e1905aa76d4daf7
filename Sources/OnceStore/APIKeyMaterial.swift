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
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }
}

extension APIKeyMaterial {
    /// `count` random lowercase hex digits (request ids: a UUID's entropy, no dashes).
    public static func randomHex(_ count: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return String((0..<count).map { _ in digits[Int(rng.next(upperBound: UInt64(16)))] })
    }
}
