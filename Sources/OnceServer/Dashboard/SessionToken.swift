import Foundation
import OnceEncoding
import OnceStore

/// HMAC-SHA256 (RFC 2104) over the project's own SHA-256, so the dashboard needs no crypto
/// library for its one signature.
enum HMACSHA256 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var block = key.count > blockSize ? SHA256.digest(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = SHA256.digest(block.map { $0 ^ 0x36 } + message)
        return SHA256.digest(block.map { $0 ^ 0x5c } + inner)
    }

    /// Compares without an early exit, so the time taken says nothing about where two MACs differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// The dashboard's session cookie: which key logged in, until when, and a per-session CSRF
/// token, signed with the server's session secret. It holds no secret itself: the API key
/// never leaves the login request, and the key id is checked against the store on every page
/// so a revoked key's sessions end at once.
struct SessionToken: Sendable, Equatable {
    var keyId: Int64
    var expiresAt: Int64
    /// Random per login; forms that change something echo it (`csrf` field).
    var csrf: String

    static let cookieName = "once_session"

    /// `keyId.expiresAt.csrf.signature`, all in cookie-safe characters.
    func encoded(secret: [UInt8]) -> String {
        let payload = "\(keyId).\(expiresAt).\(csrf)"
        return payload + "." + Self.hex(HMACSHA256.mac(key: secret, message: Array(payload.utf8)))
    }

    /// nil for anything not signed with `secret`, malformed, or expired at `now` (Unix seconds).
    static func decode(_ text: String, secret: [UInt8], now: Int64) -> SessionToken? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let keyId = Int64(parts[0]), let expiresAt = Int64(parts[1]),
            parts[2].count == 32, parts[2].allSatisfy(\.isHexDigit), let signature = unhex(parts[3])
        else { return nil }
        let payload = Array(parts[0...2].joined(separator: ".").utf8)
        guard HMACSHA256.equal(signature, HMACSHA256.mac(key: secret, message: payload)) else { return nil }
        guard expiresAt > now else { return nil }
        return SessionToken(keyId: keyId, expiresAt: expiresAt, csrf: String(parts[2]))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func unhex(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// A fresh random secret (when the operator configured none): 32 bytes from the system RNG.
    static func randomSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
