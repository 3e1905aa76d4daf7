import ArgumentParser
import Foundation
import OnceServer
import OnceStore

/// Where the tool secret key comes from (`--secret-key-file`, `$ONCE_SERVER_SECRET_KEY`, or a
/// file beside the SQLite database), and the start-up check that it opens the stored secrets.
struct ToolSecretKeyOption: Sendable {
    enum Source: Sendable {
        case file(String)
        case environment(String)
        /// Created on first start when missing.
        case besideDatabase(String)
        /// PostgreSQL without a configured key: tools can be listed but none with a secret created.
        case none
    }

    let source: Source

    init(file: String?, location: DatabaseOption.Location) throws {
        let env = ProcessInfo.processInfo.environment["ONCE_SERVER_SECRET_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if let file {
            source = .file(file)
        } else if let env {
            source = .environment(env)
        } else if case .sqlite(let path) = location {
            let folder = (path as NSString).deletingLastPathComponent
            source = .besideDatabase(
                ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent("tool-secret.key"))
        } else {
            source = .none
        }
    }

    /// The box, after checking it opens a stored secret; a one-line error otherwise. The key
    /// itself never appears in a message.
    func open(checking store: any OnceStorage) async throws -> ToolSecretBox? {
        let box: ToolSecretBox?
        do {
            switch source {
            case .file(let path): box = try ToolSecretBox.load(path: path)
            case .environment(let text): box = try ToolSecretBox(hexText: text)
            case .besideDatabase(let path):
                // Not created while tools exist: a lost key file must not be replaced silently.
                if !FileManager.default.fileExists(atPath: path), try await store.anySealedSecret() != nil {
                    throw ValidationError(
                        "tools with secrets are stored but the tool secret key file \(path) is missing; "
                            + "restore it or give the key with --secret-key-file / $ONCE_SERVER_SECRET_KEY")
                }
                box = try ToolSecretBox.loadOrCreate(path: path).box
            case .none: box = nil
            }
        } catch let error as ToolSecretBox.KeyError {
            throw ValidationError("\(error)")
        }
        guard let stored = try await store.anySealedSecret() else { return box }
        guard let box else {
            throw ValidationError(
                "tools with secrets are stored but no tool secret key is configured; "
                    + "give it with --secret-key-file or $ONCE_SERVER_SECRET_KEY")
        }
        guard box.opens(stored) else {
            throw ValidationError(
                "the tool secret key does not open the stored tool secrets (wrong key?); "
                    + "start with the key they were sealed with")
        }
        return box
    }
}
