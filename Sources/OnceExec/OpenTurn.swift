import Foundation
import OnceCore

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive `flock` on the store's directory, held while one process opens the store.
///
/// The directory, not the database file: SQLite locks the file with POSIX locks, which a
/// process loses when it closes *any* descriptor of that file, so a second descriptor of our
/// own on it would silently drop SQLite's. `flock` on the directory is independent of them.
/// Waiting is a poll with `Task.sleep`, never a blocking `flock` on a cooperative thread.
struct OpenTurn {
    private let fd: Int32

    /// Waits for the turn until `deadline`; past it the store is busy. A directory that cannot
    /// be locked (a file system without `flock`) opens without a turn, as before.
    static func take(
        directoryOf path: String, until deadline: ContinuousClock.Instant, clock: ContinuousClock, busy: String
    ) async throws(BackendError) -> OpenTurn {
        var dir = (path as NSString).deletingLastPathComponent
        if dir.isEmpty { dir = "." }
        let fd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return OpenTurn(fd: -1) }
        var pause = Duration.milliseconds(1)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                return OpenTurn(fd: -1)
            }
            guard clock.now < deadline else {
                close(fd)
                throw .busy(busy)
            }
            do {
                try await Task.sleep(for: min(pause, deadline - clock.now))
            } catch {
                close(fd)
                throw .busy(busy)
            }
            pause = min(pause * 2, .milliseconds(20))
        }
        return OpenTurn(fd: fd)
    }

    private init(fd: Int32) { self.fd = fd }

    /// Closing the descriptor releases the lock.
    func release() {
        if fd >= 0 { close(fd) }
    }
}
