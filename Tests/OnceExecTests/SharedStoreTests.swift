import Foundation
import OnceCore
import OnceTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two real users share one local store (issue 8, item 5): the store must be created with the
/// umask's permissions, so a group with `umask 002` in a setgid directory can share it.
@Suite("once-exec shared local store", .timeLimit(.minutes(3)))
struct SharedStoreTests {
    /// Throwaway users and a group, removed at the end.
    struct Accounts {
        let group: String
        let users: [String]

        init() async throws {
            let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            group = "oncegrp\(tag)"
            users = ["oncea\(tag)", "onceb\(tag)"]
            try await Self.admin("/usr/sbin/groupadd", [group])
            for u in users {
                try await Self.admin("/usr/sbin/useradd", ["-M", "-N", "-g", group, "-s", "/bin/sh", u])
            }
        }

        static func admin(_ tool: String, _ args: [String]) async throws {
            let r = try await runProcess(tool, args, timeLimit: .seconds(30))
            guard r.code == 0 else { throw HarnessError.failed("\(tool) \(args): \(r.stderr)") }
        }

        func remove() async {
            for u in users { _ = try? await runProcess("/usr/sbin/userdel", [u], timeLimit: .seconds(30)) }
            _ = try? await runProcess("/usr/sbin/groupdel", [group], timeLimit: .seconds(30))
        }

        /// once-exec as `user` with `umask 002`, HOME pointing nowhere useful. `binary` is a copy
        /// the throwaway users can reach: the build folder may sit in a directory only root can
        /// enter (a CI clone under a 0700 temp directory).
        func run(as user: String, binary: String, _ arguments: [String]) async throws -> ProcessResult {
            let quoted = ([binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
            return try await runProcess(
                "/usr/bin/setpriv",
                [
                    "--reuid", user, "--regid", group, "--init-groups", "--", "/bin/sh", "-c",
                    "umask 002; exec \(quoted)",
                ],
                environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent-once-test"], timeLimit: .seconds(60))
        }
    }

    @Test(
        "two users of one group share a store in a setgid directory, and neither breaks it for the other",
        .enabled(if: getuid() == 0, "needs root to create two throwaway users (useradd); run the suite as root"))
    func twoUsers() async throws {
        let accounts = try await Accounts()
        let dir = try makeScratchDirectory("once-shared")
        let shared = dir.appendingPathComponent("store")
        let result: Result<Void, any Error>
        do {
            try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: false)
            #expect(chown(shared.path, 0, getgrnam(accounts.group).pointee.gr_gid) == 0)
            #expect(chmod(shared.path, 0o2775) == 0)
            let db = shared.appendingPathComponent("once.sqlite").path
            let (a, b) = (accounts.users[0], accounts.users[1])
            #expect(chmod(dir.path, 0o755) == 0)
            let binary = dir.appendingPathComponent("once-exec").path
            try FileManager.default.copyItem(atPath: Binaries.onceExec, toPath: binary)
            #expect(chmod(binary, 0o755) == 0)
            let first = try await accounts.run(as: a, binary: binary, ["--state", db, "k1", "--", "true"])
            #expect(first.code == 0, "\(first.stderr)")
            var st = stat()
            #expect(stat(db, &st) == 0)
            #expect(
                st.st_mode & 0o777 == 0o664, "created with the umask (002): \(String(st.st_mode & 0o777, radix: 8))")
            let second = try await accounts.run(as: b, binary: binary, ["--state", db, "k2", "--", "true"])
            #expect(second.code == 0, "the other user can write: \(second.stderr)")
            let status = try await accounts.run(as: b, binary: binary, ["status", "--state", db, "k1"])
            #expect(status.stdout.contains("k1: completed"), "\(status.stdout) \(status.stderr)")
            let again = try await accounts.run(as: a, binary: binary, ["--state", db, "k3", "--", "true"])
            #expect(again.code == 0, "the owner still can, after the other user: \(again.stderr)")
            for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: db + suffix) {
                #expect(stat(db + suffix, &st) == 0)
                #expect(st.st_mode & 0o060 == 0o060, "\(suffix) is group-writable")
            }
            result = .success(())
        } catch {
            result = .failure(error)
        }
        await accounts.remove()
        try result.get()
    }
}
