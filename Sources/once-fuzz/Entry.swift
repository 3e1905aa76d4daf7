import Foundation

// libFuzzer calls this for every input. `scripts/fuzz` builds with -sanitize=fuzzer and
// -DONCE_LIBFUZZER; `main` below then hands control to libFuzzer's driver. The target comes
// from ONCE_FUZZ_TARGET.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["ONCE_FUZZ_TARGET"] ?? "json"
    guard let t = FuzzTarget(rawValue: name) else {
        fatalError("set ONCE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return t
}()

#if ONCE_LIBFUZZER
    typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: FuzzCallback
    ) -> CInt
#endif

/// Without libFuzzer: replays a corpus, `once-fuzz replay DIR` where DIR holds one folder per
/// target (json, key, duration, slot). CI runs the committed seeds and every crash found so far.
@main
struct OnceFuzz {
    static func main() {
        #if ONCE_LIBFUZZER
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzOneInput(data, size) }))
        #else
            replay()
        #endif
    }

    static func replay() {
        let args = CommandLine.arguments.dropFirst()
        guard args.count == 2, args.first == "replay", let root = args.last else {
            FileHandle.standardError.write(Data("usage: once-fuzz replay CORPUS_DIR\n".utf8))
            exit(64)
        }
        var count = 0
        for t in FuzzTarget.allCases {
            let dir = URL(fileURLWithPath: root).appendingPathComponent(t.rawValue)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in files.sorted() {
                guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else {
                    continue
                }
                t.run(Array(data))
                count += 1
            }
        }
        print("once-fuzz: \(count) inputs replayed over \(FuzzTarget.allCases.count) targets, no property broke")
    }
}
