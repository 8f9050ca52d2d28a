import BhattiSystem
import Dispatch
import Glibc
import Synchronization

/// A connection lent to a dedicated thread for a long-lived response: a streamed body or a WebSocket.
///
/// Both are written with blocking calls as the producer or the handler makes progress, which a thread
/// does simply and which few connections need at once; idle and short exchanges stay on the loop. The
/// loop keeps this object to end the response early: `drain` asks a WebSocket to close, `abort` cancels
/// everything and closes the socket, which wakes the thread from any blocked call.
final class HandOff: Sendable {
    private struct State {
        var aborted = false
        var task: Task<Void, Never>?
        var stream: ResponseStream?
        var socket: WebSocket?
    }

    /// The connection's socket, blocking while the thread owns it.
    let fd: FileDescriptor
    private let state = Mutex(State())

    /// How often a waiting stream checks whether the client hung up while the producer is quiet.
    static let hangupCheckMilliseconds = 200

    init(fd: FileDescriptor) { self.fd = fd }

    /// Cancels the handler task and the stream and closes the socket. Idempotent; any thread.
    func abort() {
        let (task, stream) = state.withLock { state -> (Task<Void, Never>?, ResponseStream?) in
            state.aborted = true
            return (state.task, state.stream)
        }
        // First, so a cancelled WebSocket handler's close frame (1001) finds the socket gone: an aborted
        // connection ends without a handshake. The kernel's close waits until the thread's call returns,
        // so the number is never reused under it.
        fd.close()
        task?.cancel()
        stream?.cancel()
    }

    /// Asks a WebSocket's peer to close (1001 going away); a stream is left to finish.
    func drain() {
        guard let socket = state.withLock({ $0.socket }) else { return }
        // The close frame is a blocking write: not on the loop thread.
        startThread(name: "bhatti-http-ws-close") { socket.close(code: WebSocketCloseCode.goingAway) }
    }

    // MARK: On the lent thread

    /// Starts the producer, writes the head, then the body chunk by chunk as the producer queues it;
    /// whether the connection may serve another request afterwards. `chunked` false: the body runs
    /// until the connection closes.
    func serveStream(_ stream: ResponseStream, head: [UInt8], chunked: Bool, keepAlive: Bool) -> Bool {
        let registered = state.withLock { state -> Bool in
            guard !state.aborted else { return false }
            state.stream = stream
            return true
        }
        defer { state.withLock { $0.stream = nil } }
        guard registered else {
            stream.cancel()
            return false
        }
        stream.start()
        // The head goes out with whatever the producer has queued already (often its first event),
        // so a short stream costs the client fewer reads.
        var unsent = head
        while true {
            let item = stream.next(timeoutMilliseconds: unsent.isEmpty ? Self.hangupCheckMilliseconds : 0)
            switch item {
            case .data(let data), .last(let data):
                let frame = chunked ? chunkFrame(data) : data
                // Only the head waits to be joined: later chunks go out as they are, uncopied.
                unsent = unsent.isEmpty ? frame : unsent + frame
                if case .last = item { return finish(unsent, chunked: chunked, keepAlive: keepAlive, stream) }
                guard write(unsent) else {
                    stream.cancel()
                    return false
                }
                unsent = []
            case .finished:
                return finish(unsent, chunked: chunked, keepAlive: keepAlive, stream)
            case .cancelled:
                return false
            case .idle:
                if !unsent.isEmpty {
                    guard write(unsent) else {
                        stream.cancel()
                        return false
                    }
                    unsent = []
                } else if fd.peerHungUp() {
                    stream.cancel()
                    return false
                }
            }
        }
    }

    /// Writes the body's last bytes and its end in one write; whether the connection stays open.
    private func finish(_ unsent: [UInt8], chunked: Bool, keepAlive: Bool, _ stream: ResponseStream) -> Bool {
        let bytes = chunked ? unsent + lastChunk : unsent
        guard bytes.isEmpty || write(bytes) else {
            stream.cancel()
            return false
        }
        return chunked && keepAlive
    }

    /// Sends the 101 head, then serves the socket until it closes, with the handler in a task.
    func serveWebSocket(_ upgrade: WebSocketUpgrade, head: [UInt8]) {
        guard write(head) else { return }
        let socket = WebSocket(fd: fd, role: .server, options: upgrade.options)
        let finished = DispatchSemaphore(value: 0)
        let task = Task {
            await upgrade.handler(socket)
            socket.close()
            finished.signal()
        }
        let aborted = state.withLock { state -> Bool in
            state.task = task
            state.socket = socket
            return state.aborted
        }
        if aborted { task.cancel() }
        socket.run()
        // The handler is joined, not cancelled: it may still be taking the last messages out of the stream.
        finished.wait()
        state.withLock {
            $0.task = nil
            $0.socket = nil
        }
    }

    /// Records the handler task so `abort` can cancel it; false when the connection was aborted already.
    func register(_ task: Task<Void, Never>) -> Bool {
        state.withLock { state in
            state.task = task
            return !state.aborted
        }
    }

    func unregister() { state.withLock { $0.task = nil } }

    private func write(_ bytes: [UInt8]) -> Bool {
        do {
            try fd.writeAll(bytes)
            return true
        } catch {
            return false
        }
    }
}
