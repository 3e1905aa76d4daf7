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

/// Field 22 of /proc/PID/stat (start time in clock ticks): with it a pid that was reused by
/// a new process (pid_max may be as low as 32768) is not mistaken for the old one.
public func processStartTime(_ pid: pid_t) -> UInt64? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the name: field 3 (state) is fields[0], so field 22 is fields[19].
    return fields.count > 19 ? UInt64(fields[19]) : nil
}

/// True while the process that had `startTime` still runs as `pid` (and is not a zombie).
public func isAlive(_ pid: pid_t, startedAt startTime: UInt64?) -> Bool {
    isAlive(pid) && (startTime == nil || processStartTime(pid) == startTime)
}
