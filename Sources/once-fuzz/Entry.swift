import Foundation

// libFuzzer calls this for every input (`scripts/fuzz` builds with -sanitize=fuzzer and
// -DONCE_LIBFUZZER, which also drops the `main` below: libFuzzer brings its own). The target
// comes from ONCE_FUZZ_TARGET.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    target.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["ONCE_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        fatalError("set ONCE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return t
}()

#if !ONCE_LIBFUZZER
/// Without libFuzzer: replays a corpus, `once-fuzz replay DIR` where DIR holds one folder per
/// target (json, key, duration, slot). CI runs the committed seeds and every crash found so far.
@main
struct Replay {
    static func main() {
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
#endif
