import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// One TCP connection to a port inside the guest, relayed over a stream: `result` once connected, then
/// `data` and `end` both ways.
///
/// Threads: one connects and then writes the host's bytes to the socket (from an `Inbox`, granting
/// credit as they go out); one reads the socket and sends `data` within the host's credit. `end` from
/// the host half-closes the socket; EOF from the socket sends `end`. The stream finishes when both
/// directions are done, or at once on kill, a lost host or a socket error. The socket is closed by the
/// last of the two threads to leave, so no descriptor is closed while a thread may still use it.
final class ForwardStream: GuestStream {
    let window: SendWindow
    private let context: StreamContext
    private let port: Int
    private let inbox = Inbox<Item>()
    private struct Run {
        var socket: FileDescriptor?
        var threads = 0
        var readDone = false
        var writeDone = false
        var ended = false
    }
    private let run = Mutex(Run())
    private static let chunkSize = 64 * 1024

    private enum Item {
        case data([UInt8])
        case end
    }

    init(port: Int, context: StreamContext) {
        self.port = port
        self.context = context
        window = context.window
    }

    func start() {
        startThread(name: "lohar-forward") { [self] in connectAndWrite() }
    }

    func receive(_ frame: Frame) {
        switch frame.type {
        case .data: if !frame.payload.isEmpty { inbox.push(.data(frame.payload)) }
        case .end: inbox.push(.end)
        case .kill, .error: abort(nil)
        default: break
        }
    }

    func connectionClosed() { abort(nil) }

    private func connectAndWrite() {
        let socket: FileDescriptor
        do { socket = try Socket.connect(host: "127.0.0.1", port: port) } catch {
            let message =
                error == .connectionRefused
                ? WireErrorMessage(code: .notFound, message: "connection refused on port \(port)")
                : WireErrorMessage(code: .internal, message: "cannot connect to port \(port): \(error)")
            return abort(message)
        }
        let proceed = run.withLock { r -> Bool in
            guard !r.ended else { return false }
            r.socket = socket
            r.threads = 2
            return true
        }
        guard proceed else { return socket.close() }  // killed while connecting
        // The reply goes out before the reader starts: no data can precede it.
        context.sendJSON(.result, Empty())
        startThread(name: "lohar-forward-read") { [self] in readToHost(socket) }
        writeToSocket(socket)
    }

    /// Host → socket. After a failed write (the guest side closed), the rest is discarded but still
    /// credited, so the host is never left waiting for credit on a dead direction.
    private func writeToSocket(_ socket: FileDescriptor) {
        var broken = false
        loop: while let item = inbox.pop() {
            switch item {
            case .data(let bytes):
                if !broken && (try? socket.writeAll(bytes)) == nil {
                    broken = true
                    directionDone(read: false)
                }
                context.received.consumed(bytes.count)
            case .end:
                if !broken {
                    socket.shutdownWrite()
                    directionDone(read: false)
                }
                break loop
            }
        }
        threadLeft(socket)
    }

    /// Socket → host, credit first: a host that reads slowly leaves the bytes in the socket, where
    /// TCP slows the sender down.
    private func readToHost(_ socket: FileDescriptor) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ForwardStream.chunkSize, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let allowed = window.take(upTo: ForwardStream.chunkSize)
            if allowed == 0 { break }  // aborted
            let n: Int
            do { n = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<allowed])) } catch {
                abort(WireErrorMessage(code: .internal, message: "port \(port): \(error)"))
                break
            }
            if n == 0 {
                directionDone(read: true)
                break
            }
            if n < allowed { window.grant(allowed - n) }
            if !context.writer.send(Frame(stream: context.id, type: .data, payload: Array(buffer[0..<n]))) { break }
        }
        threadLeft(socket)
    }

    /// One direction finished cleanly; the guest's EOF is told to the host, and the stream ends when
    /// both are done.
    private func directionDone(read: Bool) {
        let (tell, finish) = run.withLock { r -> (Bool, Bool) in
            guard !r.ended else { return (false, false) }
            if read { r.readDone = true } else { r.writeDone = true }
            r.ended = r.readDone && r.writeDone
            return (read, r.ended)
        }
        if tell { context.send(.end) }
        if finish {
            inbox.cancel()
            context.finished()
        }
    }

    /// Ends the stream now, with `error` when there is one to report; both threads wake and leave.
    private func abort(_ error: WireErrorMessage?) {
        let first = run.withLock { r -> Bool in
            guard !r.ended else { return false }
            r.ended = true
            // Shut down, not closed: the threads still hold the descriptor; the last one closes it.
            if let socket = r.socket, !socket.isClosed { _ = shutdown(socket.rawValue, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        inbox.cancel()
        window.close()
        if let error { context.fail(error.code, error.message) } else { context.finished() }
    }

    private func threadLeft(_ socket: FileDescriptor) {
        run.withLock { r in
            r.threads -= 1
            if r.threads == 0 { socket.close() }
        }
    }
}
