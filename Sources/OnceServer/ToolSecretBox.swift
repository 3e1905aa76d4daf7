import Crypto
import Foundation
import OnceCore

/// Seals tool secrets at rest with AES-256-GCM under the server's key (issue 10): the store
/// holds only nonce ‖ ciphertext ‖ tag, so a copy of the database file does not reveal them.
///
/// The key is 32 bytes written as 64 hex characters, from `--secret-key-file` or
/// `$ONCE_SERVER_SECRET_KEY`, else from `tool-secret.key` in the SQLite database's folder,
/// created there (mode 0600) on first start. It is never logged and never answered.
public struct ToolSecretBox: Sendable {
    private let key: SymmetricKey
    /// Bound into every box, so a box sealed for another purpose does not open as a tool secret.
    private static let context = Data("once-server tool secret v1".utf8)

    public init(keyBytes: [UInt8]) throws {
        guard keyBytes.count == 32 else { throw KeyError.malformed("the key must be 32 bytes") }
        key = SymmetricKey(data: keyBytes)
    }

    /// A fresh random key (tests, and the first start of a server).
    public static func random() -> ToolSecretBox {
        // swift-format-ignore: NeverForceUnwrap
        try! ToolSecretBox(keyBytes: randomKeyBytes())  // 32 bytes cannot fail the length check
    }

    static func randomKeyBytes() -> [UInt8] { SymmetricKey(size: .bits256).withUnsafeBytes { [UInt8]($0) } }

    public func seal(_ secret: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Self.context)
        guard let combined = box.combined else { throw KeyError.malformed("AES-GCM gave no combined box") }
        return [UInt8](combined)
    }

    /// Throws when the box was sealed under another key or altered.
    public func open(_ sealed: [UInt8]) throws -> String {
        let box = try AES.GCM.SealedBox(combined: Data(sealed))
        let plain = try AES.GCM.open(box, using: key, authenticating: Self.context)
        return String(decoding: plain, as: UTF8.self)
    }

    /// Whether this key opens `secret` (the start-up check against the stored tools).
    public func opens(_ secret: SealedSecret) -> Bool { (try? open(secret.sealed)) != nil }

    /// `sec_` + 8 random hex characters.
    static func newSecretId() -> String {
        "sec_"
            + SymmetricKey(size: .bits128).withUnsafeBytes { $0.prefix(4).map { String(format: "%02x", $0) }.joined() }
    }

    public enum KeyError: Error, CustomStringConvertible {
        case malformed(String)
        case unreadable(path: String, why: String)

        public var description: String {
            switch self {
            case .malformed(let why): "the tool secret key is malformed: \(why)"
            case .unreadable(let path, let why): "cannot read the tool secret key file \(path): \(why)"
            }
        }
    }

    /// Parses 64 hex characters (surrounding whitespace ignored).
    public init(hexText: String) throws {
        let text = hexText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 64 else { throw KeyError.malformed("expected 64 hex characters, found \(text.count)") }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else {
                throw KeyError.malformed("expected 64 hex characters")
            }
            bytes.append(byte)
            index = next
        }
        try self.init(keyBytes: bytes)
    }

    /// Reads the key file at `path`.
    public static func load(path: String) throws -> ToolSecretBox {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KeyError.unreadable(path: path, why: "\(error.localizedDescription)")
        }
        return try ToolSecretBox(hexText: text)
    }

    /// Reads the key file at `path`, or creates it with a new key (mode 0600). The new file is
    /// written aside and linked into place, so two servers starting together agree on one key and
    /// none reads a half-written file.
    public static func loadOrCreate(path: String) throws -> (box: ToolSecretBox, created: Bool) {
        if FileManager.default.fileExists(atPath: path) { return (try load(path: path), false) }
        let hex = randomKeyBytes().map { String(format: "%02x", $0) }.joined() + "\n"
        let aside = path + ".new-\(getpid())"
        let fd = createPrivateFile(aside)
        guard fd >= 0 else { throw KeyError.unreadable(path: path, why: String(cString: strerror(errno))) }
        defer { unlink(aside) }
        let bytes = Array(hex.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            throw KeyError.unreadable(path: path, why: "could not write the new key")
        }
        guard link(aside, path) == 0 else {
            if errno == EEXIST { return (try load(path: path), false) }
            throw KeyError.unreadable(path: path, why: String(cString: strerror(errno)))
        }
        return (try ToolSecretBox(hexText: hex), true)
    }
}

/// `open(2)` for writing with mode 0600 (at file scope: inside the struct `open` is its method).
private func createPrivateFile(_ path: String) -> Int32 { open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600) }
