import GRDB
import Synchronization

/// Read-only connections to the store's file, taken in turn by the store's reads (once-server
/// opens them; without them reads go through the `DatabasePool`'s readers).
///
/// A pool read passes the request to an actor that picks a reader, then to that reader's
/// queue, and back: four thread hand-offs, and on two cores the kernel's task switching was a
/// third of the server's time under load (`perf record`). A read here goes to one
/// connection's queue and back: two. Each read runs in its own deferred transaction (one
/// snapshot, which sees every commit answered before it), as the pool's readers do; a read
/// that finds its connection busy waits its turn on that connection's queue without blocking
/// a thread.
final class ReadConnections: Sendable {
    private let connections: [DatabaseQueue]
    private let turn = Atomic<Int>(0)

    init(path: String, count: Int, busyTimeout: Double) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        connections = try (0..<max(1, count)).map { _ in
            try DatabaseQueue(path: path, configuration: configuration)
        }
    }

    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        let turn = self.turn.wrappingAdd(1, ordering: .relaxed).oldValue
        let index = Int(UInt(bitPattern: turn) % UInt(connections.count))
        return try await connections[index].read(body)
    }
}
