import Foundation
import OnceCore
import OnceTestSupport
import Testing

@Suite("--version")
struct VersionTests {
    @Test("both binaries print the version and the git revision", arguments: ["once-server", "once-exec"])
    func version(binary: String) async throws {
        let path = binary == "once-server" ? Binaries.onceServer : Binaries.onceExec
        let result = try await runProcess(path, ["--version"], timeLimit: .seconds(30))
        #expect(result.code == 0)
        // A plain `swift build` says "dev"; scripts/release writes the revision it built.
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == OnceVersion.text)
        #expect(OnceVersion.text.hasPrefix(OnceVersion.version + " ("))
    }
}
