/// A registered tool backend (API §10.1) as stored: the secret only sealed, with its id and mask.
public struct ToolRecord: Sendable, Equatable {
    public var scopeId: String
    public var name: String
    public var url: String
    /// Only `hmac_sha256` (API §10.1).
    public var authType: String
    public var secret: SealedSecret?
    public var timeoutMs: Int
    public var maxRetries: Int
    public var enabled: Bool
    public var description: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        scopeId: String, name: String, url: String, authType: String = "hmac_sha256", secret: SealedSecret?,
        timeoutMs: Int, maxRetries: Int, enabled: Bool, description: String?, createdAt: Timestamp,
        updatedAt: Timestamp
    ) {
        self.scopeId = scopeId
        self.name = name
        self.url = url
        self.authType = authType
        self.secret = secret
        self.timeoutMs = timeoutMs
        self.maxRetries = maxRetries
        self.enabled = enabled
        self.description = description
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A tool secret as the store keeps it: the AES-GCM box (nonce, ciphertext and tag, sealed above
/// the store under the server's key), and what may be shown of it.
public struct SealedSecret: Sendable, Equatable {
    public var sealed: [UInt8]
    /// `sec_` + 8 hex (API §10.1).
    public var id: String
    /// `***` + the secret's last 3 characters.
    public var mask: String

    public init(sealed: [UInt8], id: String, mask: String) {
        self.sealed = sealed
        self.id = id
        self.mask = mask
    }

    public static func mask(of secret: String) -> String { "***" + String(secret.suffix(3)) }
}

/// What `POST /v1/tools` asks the store to write: the tool's fields, and a new sealed secret or
/// nil to keep the stored one.
public struct ToolUpsert: Sendable, Equatable {
    public var scopeId: String
    public var name: String
    public var url: String
    public var secret: SealedSecret?
    public var timeoutMs: Int
    public var maxRetries: Int
    public var enabled: Bool
    public var description: String?

    public init(
        scopeId: String, name: String, url: String, secret: SealedSecret?, timeoutMs: Int, maxRetries: Int,
        enabled: Bool, description: String?
    ) {
        self.scopeId = scopeId
        self.name = name
        self.url = url
        self.secret = secret
        self.timeoutMs = timeoutMs
        self.maxRetries = maxRetries
        self.enabled = enabled
        self.description = description
    }
}

/// What a tool upsert decided inside its transaction.
public enum ToolWrite: Sendable, Equatable {
    case stored(ToolRecord)
    /// Creating it would pass the plan's tool count (API §10.2: 403 `plan_limit`).
    case planLimit(max: Int)
    /// A new tool needs `auth.secret` (an update may omit it).
    case secretRequired
}

/// The rules of the tools registry (API §10.1, §15 row 25).
public enum ToolRules {
    public static let defaultTimeoutMs = 15_000
    public static let timeoutRange = 250...120_000
    public static let defaultMaxRetries = 2
    public static let retriesRange = 0...10
    public static let nameLength = 1...128
    public static let minSecretLength = 8
    public static let maxDescription = 512

    /// `^[a-zA-Z0-9_.:-]+$`, 1–128 characters.
    public static func isValidName(_ name: String) -> Bool {
        nameLength.contains(name.unicodeScalars.count)
            && name.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                    || "_.:-".unicodeScalars
                        .contains(c)
            }
    }

    /// `global` or `agent:<agent_id>` with a non-empty agent id.
    public static func isValidScope(_ scope: String) -> Bool {
        scope == "global" || (scope.hasPrefix("agent:") && scope.count > "agent:".count && scope.count <= 263)
    }

    /// The scopes a governed call by `agentId` looks in, in order (API §10.2).
    public static func lookupScopes(agentId: String) -> [String] { ["agent:" + agentId, "global"] }
}
