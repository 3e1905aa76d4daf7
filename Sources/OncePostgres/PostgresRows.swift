import Foundation
import OnceCore
import OnceStore
import PostgresNIO

// Decoding of the schema's rows. A column that does not decode throws (mapped to
// `StoreError.corrupt`), an unknown enum value too; nothing falls back to a default.

extension PostgresRandomAccessRow {
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    func timestamp(_ column: String) throws -> Timestamp { Timestamp(milliseconds: try value(column, as: Int64.self)) }

    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        try value(column, as: Int64?.self).map(Timestamp.init(milliseconds:))
    }

    func json(_ column: String) throws -> JSONValue? {
        guard let text = try value(column, as: String?.self) else { return nil }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("column \(column) holds invalid JSON")
        }
    }

    func enumValue<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
        let raw = try value(column, as: String.self)
        guard let value = E(rawValue: raw) else { throw StoreError.corrupt("column \(column) holds unknown \(raw)") }
        return value
    }

    var leaseRecord: LeaseRecord {
        get throws {
            LeaseRecord(
                key: try value("key"), state: try enumValue(LeaseState.self, "state"), leaseId: try value("lease_id"),
                version: try value("version"), ttl: Int(try value("ttl", as: Int64.self)),
                deadline: try timestamp("deadline"), firstSeenAt: try timestamp("first_seen_at"),
                doneAt: try optionalTimestamp("done_at"), result: try json("result"),
                resultHash: try value("result_hash"), errorCode: try value("error_code"), runId: try value("run_id"),
                agentId: try value("agent_id"), metadata: try json("metadata"))
        }
    }

    var checkLockRecord: CheckLockRecord {
        get throws {
            CheckLockRecord(
                key: try value("key"), ttl: Int(try value("ttl", as: Int64.self)),
                createdAt: try timestamp("created_at"), expiresAt: try timestamp("expires_at"),
                metadata: try json("metadata"))
        }
    }

    var keyInfo: APIKeyInfo {
        get throws {
            APIKeyInfo(
                id: try value("id"), accountId: try value("account_id"), plan: try enumValue(Plan.self, "plan"),
                name: try value("name"), preview: try value("preview"), createdAt: try timestamp("created_at"),
                revokedAt: try optionalTimestamp("revoked_at"))
        }
    }

    var notifications: NotificationSettings {
        get throws {
            let master = try value("notify_email", as: Bool.self)
            return NotificationSettings(
                email: master, toolErrors: try value("notify_tool_errors", as: Bool?.self) ?? master,
                runFailures: try value("notify_run_failures", as: Bool?.self) ?? master)
        }
    }

    var runEvent: StoredRunEvent {
        get throws {
            StoredRunEvent(
                id: try value("id"),
                event: RunEvent(
                    runId: try value("run_id"), type: try value("type"), ts: try timestamp("ts"),
                    status: try value("status"), step: try value("step"), tool: try value("tool"),
                    reqId: try value("req_id"), leaseId: try value("lease_id"), agentId: try value("agent_id"),
                    message: try value("message"), durationMs: try value("duration_ms"), data: try json("data")))
        }
    }
}

extension PostgresRowSequence {
    /// All rows, for random access by column name.
    func rows() async throws -> [PostgresRandomAccessRow] { try await collect().map { $0.makeRandomAccess() } }
}

/// A 64-bit FNV-1a hash, the advisory-lock key of one record. A collision only makes two keys
/// wait for each other; it never lets two transitions of one key run at once.
func lockKey(_ kind: String, _ accountId: Int64, _ key: String) -> Int64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in Array("\(kind)|\(accountId)|".utf8) + Array(key.utf8) {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return Int64(bitPattern: hash)
}
