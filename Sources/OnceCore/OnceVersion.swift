/// What `--version` of both binaries and once-server's `once_build_info` report.
package enum OnceVersion {
    package static let version = "0.1.0"
    /// The git revision the binaries were built from: `scripts/release` writes it into
    /// `BuildRevision.swift` for its build and puts the file back afterwards; a plain
    /// `swift build` reports "dev".
    package static let revision = BuildRevision.value
    /// `0.1.0 (3f2a9c1d0e4b)`.
    package static let text = "\(version) (\(revision))"
}
