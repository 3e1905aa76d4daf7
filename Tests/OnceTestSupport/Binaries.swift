import Foundation

/// Where the built `once-exec` and `once-server` are: `ONCE_BIN_DIR`, else next to the test
/// bundle, else the package's `.build/debug`.
public enum Binaries {
    public static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ONCE_BIN_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        let nextToTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: nextToTests.appendingPathComponent("once-exec").path) {
            return nextToTests
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug")
    }

    public static var onceExec: String { directory.appendingPathComponent("once-exec").path }

    /// `ONCE_SERVER_BIN` wins, as the server suites and the interop script use it.
    public static var onceServer: String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ONCE_SERVER_BIN"], !path.isEmpty { return path }
        return directory.appendingPathComponent("once-server").path
    }
}

/// A fresh scratch directory under the system temporary directory.
public func makeScratchDirectory(_ prefix: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
