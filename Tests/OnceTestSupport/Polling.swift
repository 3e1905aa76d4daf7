import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Checks `condition` every 20 ms (sleeping, not blocking) until it holds or `timeLimit` passes.
public func eventually(_ timeLimit: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeLimit)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// True while `pid` is a live (not zombie) process.
public func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    // Field 3 is the state; Z is a zombie, X dead.
    let afterName = stat.split(separator: ")").last ?? ""
    let state = afterName.split(separator: " ").first ?? ""
    return state != "Z" && state != "X"
}
