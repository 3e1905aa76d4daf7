import Foundation
import OnceCore
import OnceStoreTestSupport
import OnceTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Tests against the built `once-server` binary over real sockets, on the store
/// `ONCE_TEST_STORE` names.
@Suite("once-server process", .serialized, .timeLimit(.minutes(5)))
struct LiveServerTests {
    /// nil: a fresh SQLite file; otherwise a fresh PostgreSQL database's URL.
    func database() async throws -> String? {
        switch TestStores.kind {
        case .sqlite: nil
        case .postgres: try await TestStores.newPostgresDatabase().description
        }
    }

    func cli(_ arguments: [String]) async throws -> String {
        let result = try await runProcess(Binaries.onceServer, arguments, timeLimit: .seconds(60))
        guard result.code == 0 else { throw LiveError.failed("once-server \(arguments) exited \(result.code)") }
        return result.stdout
    }

    @Test("64 concurrent HTTP clients racing for one key: exactly one acquired, over many keys")
    func concurrentClients() async throws {
        // 64 × 20 requests from one key is a load test, not a rate-limit test.
        let server = try await ServerProcess(database: try await database(), arguments: ["--rate-limit", "0"])
        let sessions = (0..<64).map { _ in URLSession(configuration: .ephemeral) }
        defer { sessions.forEach { $0.invalidateAndCancel() } }
        for round in 0..<20 {
            let key = "race-\(round)-\(UUID().uuidString)"
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for session in sessions {
                    group.addTask {
                        let r = try await server.send(
                            "POST", "/v1/ai/lease", json: #"{"key":"\#(key)","ttl":60}"#, session: session)
                        return (r.status, r.body["status"]?.stringValue)
                    }
                }
                return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0.0 == 200 }, "round \(round): \(statuses.filter { $0.0 != 200 })")
            #expect(statuses.filter { $0.1 == "acquired" }.count == 1, "round \(round)")
            #expect(statuses.filter { $0.1 == "polling" }.count == 63, "round \(round)")
        }
        #expect(await server.stop() == 0, "SIGTERM shuts the server down cleanly")
    }

    @Test("versions strictly increase across expiry, re-acquire and restarts; acknowledged results survive kill -9")
    func versionsAcrossRestart() async throws {
        let server = try await ServerProcess(
            database: try await database(), arguments: ["--min-ttl", "1", "--sweep-interval", "0"])
        var versions: [Int64] = []
        func acquire() async throws -> (String, Int64) {
            let r = try await server.send("POST", "/v1/ai/lease", json: #"{"key":"fenced","ttl":1}"#)
            #expect(r.body["status"] == .string("acquired"), "\(r.body)")
            guard case .int(let v)? = r.body["version"], let id = r.body["lease_id"]?.stringValue else {
                throw LiveError.failed("no lease: \(r.body)")
            }
            versions.append(Int64(v))
            return (id, Int64(v))
        }
        _ = try await acquire()
        try await Task.sleep(for: .milliseconds(1200))  // expires
        let status = try await server.send("GET", "/v1/ai/status?key=fenced")
        #expect(status.body["status"] == .string("failed"))
        #expect(status.body["error_code"] == .string("lease_expired"))
        _ = try await acquire()
        _ = await server.stop(signal: SIGKILL)
        try await server.start()
        try await Task.sleep(for: .milliseconds(1200))
        let (id, _) = try await acquire()
        let done = try await server.send(
            "POST", "/v1/ai/complete", json: #"{"key":"fenced","lease_id":"\#(id)","result":{"ok":1}}"#)
        #expect(done.status == 200)
        guard case .int(let completedVersion)? = done.body["version"] else { Issue.record("\(done.body)"); return }
        versions.append(Int64(completedVersion))
        _ = await server.stop(signal: SIGKILL)
        try await server.start()
        let result = try await server.send("GET", "/v1/ai/result?key=fenced")
        #expect(result.body["status"] == .string("completed"))
        #expect(result.body["result"] == .object(["ok": .int(1)]))
        #expect(result.body["version"] == .int(completedVersion))
        #expect(versions == versions.sorted() && Set(versions).count == versions.count, "\(versions)")
        #expect(versions.count == 4)

        // A check-lock acknowledged before a crash still blocks after it.
        _ = try await server.send("POST", "/v1/check-lock", json: #"{"key":"paid","ttl":60}"#)
        _ = await server.stop(signal: SIGKILL)
        try await server.start()
        let dup = try await server.send("POST", "/v1/check-lock", json: #"{"key":"paid","ttl":60}"#)
        #expect(dup.body["status"] == .string("duplicate"))
    }

    @Test("keys list and revoke from the command line")
    func keysCommands() async throws {
        let server = try await ServerProcess(database: try await database())
        let list = try await cli(["keys", "list", "--database", server.database, "--json"])
        #expect(list.contains("\"plan\":\"agency\""))
        #expect(!list.contains(server.key), "secrets are never listed")
        #expect(try await server.send("GET", "/v1/me").status == 200)
        let revoked = try await cli(["keys", "revoke", "--database", server.database, server.key])
        #expect(revoked.hasPrefix("revoked key"))
        let after = try await server.send("GET", "/v1/me")
        #expect(after.status == 403)
        #expect(after.body["detail"] == .string("API key disabled"))
    }

    @Test("a key revoked by another process is refused on its very next check-lock and lease")
    func revokedFromAnotherProcess() async throws {
        let server = try await ServerProcess(database: try await database())
        // Twice each: the second answer comes through the server's key cache.
        for round in 0..<2 {
            let locked = try await server.send("POST", "/v1/check-lock", json: #"{"key":"r-\#(round)","ttl":60}"#)
            #expect(locked.status == 200)
            let dup = try await server.send("POST", "/v1/check-lock", json: #"{"key":"r-0","ttl":60}"#)
            #expect(dup.body["status"] == .string("duplicate"))
            let lease = try await server.send("POST", "/v1/ai/lease", json: #"{"key":"l-\#(round)","ttl":60}"#)
            #expect(lease.body["status"] == .string("acquired"))
        }
        let revoked = try await cli(["keys", "revoke", "--database", server.database, server.key])
        #expect(revoked.hasPrefix("revoked key"))
        // New key (the write path), duplicate and poll (answered from a read), and a second
        // attempt after the cache dropped the key: every one refused, nothing written.
        for (path, body) in [
            ("/v1/check-lock", #"{"key":"r-new","ttl":60}"#), ("/v1/check-lock", #"{"key":"r-0","ttl":60}"#),
            ("/v1/ai/lease", #"{"key":"l-0","ttl":60}"#), ("/v1/ai/lease", #"{"key":"l-new","ttl":60}"#),
            ("/v1/check-lock", #"{"key":"r-new","ttl":60}"#),
        ] {
            let after = try await server.send("POST", path, json: body)
            #expect(after.status == 403, "\(path) \(body)")
            #expect(after.body["detail"] == .string("API key disabled"), "\(path) \(body)")
        }
    }
}

enum LiveError: Error { case failed(String) }
