import COnceSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// With `--capture N`: the child writes into a pipe, once-exec copies every byte to its own
/// stdout/stderr at once and keeps the last N bytes for the run record and `--replay`.
package final class OutputTail: Sendable {
    package let writeFD: Int32
    private let readFD: Int32
    private let target: Int32
    private let limit: Int
    /// What the pump thread shares with ``finish(timeout:)``.
    private struct State {
        var buffer: [UInt8] = []
        var truncated = false
        /// The pump left the pipe to a drain process (told to stop) instead of reading to EOF.
        var stopped = false
        var pumpDone = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())
    /// Written to tell the pump to stop reading and leave the pipe to a drain process.
    private let stopRead: Int32
    private let stopWrite: Int32

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
                state.withLock { $0.stopped = true }
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
            state.withLock { s in
                s.buffer.append(contentsOf: chunk[0..<n])
                if s.buffer.count > limit {
                    s.buffer.removeFirst(s.buffer.count - limit)
                    s.truncated = true
                }
            }
            // The reader downstream went away (`| head`): close our end too, so the child's next
            // write fails as it would have without once-exec in between (SIGPIPE).
            if closed { break }
        }
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if !s.stopped { close(readFD) }
            s.pumpDone = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Returns when the pump thread has ended (read to EOF, or been told to stop).
    private func pumpEnded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if !s.pumpDone { s.waiter = continuation }
                return s.pumpDone
            }
            if done { continuation.resume() }
        }
    }

    /// Waits until the pipe is drained, or `timeout` passes (a grandchild may keep it open).
    ///
    /// A background helper of COMMAND that still holds the pipe then would lose its reader
    /// (and die of SIGPIPE at its next write) when once-exec exits: the pipe is handed to a
    /// small drain process that goes on copying to once-exec's stdout/stderr until the helper
    /// closes it. The tail keeps only what arrived before.
    package func finish(timeout: Duration) async -> (text: String, truncated: Bool, bytes: [UInt8]) {
        let drained = await withTaskGroup(of: Bool.self, returning: Bool.self) { group in
            group.addTask {
                await self.pumpEnded(); return true
            }
            group.addTask { (try? await Task.sleep(for: timeout)) == nil }
            let first = await group.next() ?? true
            if !first {
                // Timed out: tell the pump to stop; the pumpEnded task then returns at once.
                var byte: UInt8 = 1
                _ = write(stopWrite, &byte, 1)
            }
            group.cancelAll()
            return first
        }
        if !drained, state.withLock({ $0.stopped }) {
            once_drain(readFD, target)
            close(readFD)
        }
        close(stopRead)
        close(stopWrite)
        return state.withLock { (String(decoding: $0.buffer, as: UTF8.self), $0.truncated, $0.buffer) }
    }
}
