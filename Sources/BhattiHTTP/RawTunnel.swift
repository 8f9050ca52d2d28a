import BhattiSystem
import Dispatch
import Glibc
import Synchronization

/// A response that takes the connection over: the handler reads what the client sends and writes
/// raw bytes back (a reverse proxy's upstream answer, a WebSocket relayed frame for frame). The
/// server writes nothing itself and closes the connection when the handler returns.
public struct RawTunnel: Sendable {
    public var handler: @Sendable (TunnelConnection) async -> Void

    public init(handler: @escaping @Sendable (TunnelConnection) async -> Void) {
        self.handler = handler
    }
}

/// The client's connection inside a tunnel. Reads come from the server's lent thread one chunk at a
/// time (the next is read only when the previous was taken, so a slow upstream holds the client
/// back); writes block until the kernel takes the bytes, under the server's write timeout.
public final class TunnelConnection: Sendable {
    private let fd: FileDescriptor
    private let chunks: AsyncStream<[UInt8]>
    private let cursor: Cursor
    /// Signalled when the consumer asks for the next chunk: the reader may read again.
    let taken = DispatchSemaphore(value: 0)
    let input: AsyncStream<[UInt8]>.Continuation

    init(fd: FileDescriptor) {
        self.fd = fd
        let (stream, input) = AsyncStream<[UInt8]>.makeStream()
        chunks = stream
        self.input = input
        cursor = Cursor(stream.makeAsyncIterator())
    }

    /// The client's next bytes, or nil at its end of input. One consumer.
    public func next() async -> [UInt8]? {
        taken.signal()
        return await cursor.next()
    }

    /// Writes all of `bytes` to the client.
    public func write(_ bytes: [UInt8]) throws {
        try fd.writeAll(bytes)
    }
}

/// The iterator behind `TunnelConnection.next`.
///
/// `@unchecked Sendable`: the tunnel has one consumer, so the iterator is never used from two tasks at once.
private final class Cursor: @unchecked Sendable {
    private var iterator: AsyncStream<[UInt8]>.Iterator
    init(_ iterator: AsyncStream<[UInt8]>.Iterator) { self.iterator = iterator }
    func next() async -> [UInt8]? { await iterator.next() }
}

extension HandOff {
    /// Runs the tunnel's handler in a task while this thread reads the client's bytes for it; returns
    /// when the handler has returned (the socket is shut down then, which ends a blocked read).
    func serveTunnel(_ tunnel: RawTunnel) {
        let connection = TunnelConnection(fd: fd)
        let finished = DispatchSemaphore(value: 0)
        let done = Atomic<Bool>(false)
        let fd = self.fd
        let task = Task {
            await tunnel.handler(connection)
            done.store(true, ordering: .sequentiallyConsistent)
            _ = try? fd.withRawValue { Glibc.shutdown($0, Int32(SHUT_RDWR)) }
            connection.taken.signal()
            finished.signal()
        }
        guard register(task) else {
            task.cancel()
            finished.wait()
            return
        }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while !done.load(ordering: .sequentiallyConsistent) {
            let n = (try? fd.withRawValue { raw in buffer.withUnsafeMutableBytes { Glibc.recv(raw, $0.baseAddress, $0.count, 0) } }) ?? -1
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            connection.input.yield(Array(buffer[0..<n]))
            connection.taken.wait()
        }
        connection.input.finish()
        finished.wait()
        unregister()
    }
}
