import OnceStore
import Testing

@Suite("Random identifiers")
struct RandomIdentifierTests {
    @Test("request ids are 32 lowercase hex digits, and every digit turns up in both nibbles")
    func hex() {
        var high = Set<Character>()
        var low = Set<Character>()
        var seen = Set<String>()
        for _ in 0..<500 {
            let id = APIKeyMaterial.randomHex(32)
            #expect(id.count == 32)
            #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
            let chars = Array(id)
            for (i, c) in chars.enumerated() { if i % 2 == 0 { high.insert(c) } else { low.insert(c) } }
            seen.insert(id)
        }
        #expect(high.count == 16 && low.count == 16)
        #expect(seen.count == 500)
        #expect(APIKeyMaterial.randomHex(5).count == 5)
    }

    @Test("tokens are base-62, every character turns up, none is favoured much")
    func token() {
        var counts: [Character: Int] = [:]
        for _ in 0..<1000 {
            let token = APIKeyMaterial.randomToken()
            #expect(token.count == 24)
            for c in token { counts[c, default: 0] += 1 }
        }
        #expect(counts.count == 62)
        // 24,000 draws over 62 characters: about 387 each. A modulo bias over all 256 byte
        // values would give the first 8 characters about 5/4 of the others' share.
        let first8 = "01234567".map { counts[$0] ?? 0 }.reduce(0, +)
        let last8 = "stuvwxyz".map { counts[$0] ?? 0 }.reduce(0, +)
        #expect(Double(first8) / Double(last8) < 1.15, "\(first8) vs \(last8)")
    }
}
