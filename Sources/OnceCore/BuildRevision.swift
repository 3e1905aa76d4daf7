// Rewritten by scripts/release for a release build; keep its shape (one string literal).
enum BuildRevision {
    static let value = "dev"
}
