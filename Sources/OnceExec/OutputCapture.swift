import COnceSpawn
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// With `--capture N`: the child writes into a pipe, once-exec copies every byte to its own
/// stdout/stderr at once and keeps the last N bytes for the run record and `--replay`.
package final class OutputTail: @unchecked Sendable {
    package let writeFD: Int32
    private let readFD: Int32
    private let target: Int32
    private let limit: Int
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var truncated = false
    private let done = DispatchSemaphore(value: 0)
    /// Written to tell the pump to stop reading and leave the pipe to a drain process.
    private let stopRead: Int32
    private let stopWrite: Int32
    private var stopped = false

    package init(target: Int32, limit: Int) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        readFD = fds[0]
        writeFD = fds[1]
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeFD, F_SETFD, FD_CLOEXEC)
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        stopRead = fds[0]
        stopWrite = fds[1]
        _ = fcntl(stopRead, F_SETFD, FD_CLOEXEC)
        _ = fcntl(stopWrite, F_SETFD, FD_CLOEXEC)
        self.target = target
        self.limit = limit
        let thread = Thread { [self] in pump() }
        thread.start()
    }

    /// The parent's copy of the write end must go once the child has it, so EOF can come.
    package func closeWriteEnd() { close(writeFD) }

    private func pump() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [
                pollfd(fd: readFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0, errno == EINTR { continue }
            if fds[1].revents != 0 {
                lock.withLock { stopped = true }
                break
            }
            let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            var offset = 0
            var closed = false
            while offset < n {
                let w = chunk[offset..<n].withUnsafeBytes { write(target, $0.baseAddress, $0.count) }
                if w < 0, errno == EINTR { continue }
                if w < 0, errno == EPIPE { closed = true }
                if w <= 0 { break }
                offset += w
            }
            lock.withLock {
                buffer.append(contentsOf: chunk[0..<n])
                if buffer.count > limit {
                    buffer.removeFirst(buffer.count - limit)
                    truncated = true
                }
            }
            // The reader downstream went away (`| head`): close our end too, so the child's next
            // write fails as it would have without once-exec in between (SIGPIPE).
            if closed { break }
        }
        if !lock.withLock({ stopped }) { close(readFD) }
        done.signal()
    }

    /// Waits until the pipe is drained, or `timeout` passes (a grandchild may keep it open).
    ///
    /// A background helper of COMMAND that still holds the pipe then would lose its reader
    /// (and die of SIGPIPE at its next write) when once-exec exits: the pipe is handed to a
    /// small drain process that goes on copying to once-exec's stdout/stderr until the helper
    /// closes it. The tail keeps only what arrived before.
    package func finish(timeout: Double) -> (text: String, truncated: Bool, bytes: [UInt8]) {
        if done.wait(timeout: .now() + timeout) == .timedOut {
            var byte: UInt8 = 1
            _ = write(stopWrite, &byte, 1)
            done.wait()
            if lock.withLock({ stopped }) {
                once_drain(readFD, target)
                close(readFD)
            }
        }
        close(stopRead)
        close(stopWrite)
        return lock.withLock { (String(decoding: buffer, as: UTF8.self), truncated, buffer) }
    }
}
