import BhattiSystem
import CBhattiShim
import Dispatch
import Glibc
import Synchronization

/// One WebSocket connection (RFC 6455), server or client side.
///
/// A dedicated thread reads: it hands whole messages to `messages`, answers pings, sends keepalive
/// pings, and completes the close handshake. Sends write their frame at once under a lock, so frames
/// from several tasks never interleave; a send blocks only while the kernel's socket buffer is full
/// (send large payloads from a dedicated thread). The reader keeps the connection open until the close
/// handshake: call `close()` when done.
public final class WebSocket: Sendable {
    enum Role: Sendable {
        /// Reads masked frames, writes unmasked ones, and closes the TCP connection first.
        case server
        /// Masks every frame it writes and waits for the server to close the TCP connection.
        case client
    }

    private struct State {
        /// When the close handshake must be over; set when our close frame goes out.
        var closeDeadline: ContinuousClock.Instant?
        /// The peer's close status once its close frame arrived (1005 when it carried none).
        var peerClose: WebSocketClose?
        /// Whether `messages` has ended.
        var ended = false
    }

    /// What `process` found in the bytes read so far.
    private enum Progress {
        case open
        case closeReceived
        case failed
    }

    /// The peer's messages in order; iterate it from one task at a time. Ends after a close handshake
    /// with 1000, 1001 or no status; throws a `WebSocketError` for any other code, a protocol error, a
    /// keepalive timeout, or a connection lost without a close handshake. Cancelling the task while it
    /// waits for a message ends the stream for good (AsyncThrowingStream's rule) and so sends close 1001.
    ///
    /// At most `options.maxQueuedBytes` of messages wait here (plus the one that crossed it): past that
    /// the reader stops reading the socket until the consumer takes one, so a peer that sends faster
    /// than the consumer goes blocks in its own send instead of growing this process.
    public let messages: AsyncThrowingStream<WebSocketMessage, any Error>
    private let continuation: AsyncThrowingStream<WebSocketMessage, any Error>.Continuation
    private let inbound: WebSocketInbound
    let role: Role
    let options: WebSocketOptions
    private let fd: FileDescriptor
    private let initialBytes: [UInt8]
    /// Whether our close frame went out. Held for each whole write, so no frame can follow the close
    /// frame and frames from concurrent senders never interleave.
    private let writer = Mutex(false)
    private let state = Mutex(State())

    /// A connection over `fd` after a completed handshake; `initialBytes` arrived with the handshake.
    /// `run()` must then be called on a dedicated thread.
    init(fd: FileDescriptor, role: Role, options: WebSocketOptions, initialBytes: [UInt8] = []) {
        let (queue, continuation) = AsyncThrowingStream.makeStream(of: WebSocketMessage.self, throwing: (any Error).self)
        let inbound = WebSocketInbound(limit: options.maxQueuedBytes)
        let cursor = StreamCursor(queue)
        // Pulled through the count, so taking a message makes room for the reader.
        messages = AsyncThrowingStream(unfolding: {
            guard let message = try await cursor.next() else { return nil }
            inbound.taken(message.byteCount)
            return message
        })
        self.continuation = continuation
        self.inbound = inbound
        self.fd = fd
        self.role = role
        self.options = options
        self.initialBytes = initialBytes
        // A peer that stops reading must not block a writer (a handler's send, the reader's pong)
        // forever: a write that makes no progress for three keepalive intervals fails.
        let stall = max(options.closeTimeout, (options.pingInterval ?? .zero) * 3).components.seconds
        var limit = timeval(tv_sec: Int(clamping: max(1, stall)), tv_usec: 0)
        _ = try? fd.withRawValue { raw in setsockopt(raw, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) }
        continuation.onTermination = { [weak self, inbound] reason in
            // A consumer whose task was cancelled will read no more: tell the peer we are going away.
            if case .cancelled = reason {
                inbound.consumerLeft()
                self?.close(code: WebSocketCloseCode.goingAway)
            }
        }
    }

    /// Sends a text message.
    public func send(text: String) throws(WebSocketError) { try send(.text, Array(text.utf8)) }

    /// Sends a binary message.
    public func send(binary: [UInt8]) throws(WebSocketError) { try send(.binary, binary) }

    /// Sends a ping (at most 125 bytes of payload); the peer answers with a pong.
    public func ping(_ payload: [UInt8] = []) throws(WebSocketError) {
        guard payload.count <= maxControlPayload else { throw .protocolViolation("ping payload over 125 bytes") }
        try send(.ping, payload)
    }

    /// Starts the close handshake: sends a close frame with `code` and `reason` (cut to 123 bytes;
    /// codes a peer must reject are sent as 1000), then waits up to `closeTimeout` for the peer's.
    /// Later sends throw `notOpen`. Idempotent.
    public func close(code: UInt16 = WebSocketCloseCode.normal, reason: String = "") {
        sendClose(closePayload(code: code, reason: reason))
    }

    /// The peer's close status, once its close frame arrived (code 1005 when it carried none).
    public var closeStatus: WebSocketClose? { state.withLock { $0.peerClose } }

    /// Returns once the connection is over: the close handshake finished, the peer went away, or the
    /// connection failed (`messages` may still hold what arrived before). Also returns when cancelled.
    public func waitUntilEnded() async { await inbound.waitUntilEnded() }

    /// Bytes of messages that arrived and wait for the consumer, for tests and diagnostics.
    public var queuedBytes: Int { inbound.queuedBytes }

    /// Reads until the connection ends, then closes the socket. Runs on a dedicated thread: the
    /// thread a server connection is lent to (`HandOff`), or one the client starts.
    func run() {
        defer {
            fd.close()
            // Also here: a reader that returns after a close frame it sent has not called `end`.
            inbound.connectionEnded()
        }
        var parser = WebSocketParser(expectsMaskedFrames: role == .server, maxMessageBytes: options.maxMessageBytes)
        parser.feed(initialBytes)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let clock = ContinuousClock()
        var lastHeard = clock.now
        var lastPing = clock.now
        // Once the outcome is known the loop only waits, discarding bytes, for the peer to close TCP.
        var draining = false
        // While paused the peer's pongs stay unread in the kernel: its silence then is ours, so it
        // counts only from when reading resumes (pings still go out, so a dead peer fails the write).
        var paused = false
        while true {
            if !draining {
                switch process(&parser) {
                case .open: break
                case .closeReceived:
                    // RFC 6455 §7.1.1: the server closes the TCP connection first; the client waits for it.
                    if role == .server { return }
                    draining = true
                case .failed:
                    // Our close frame and then end of file, so the peer stops sending and closes too.
                    fd.shutdownWrite()
                    draining = true
                }
            }
            let now = clock.now
            // The reader wakes at least once per close timeout, so a close started on another thread
            // is enforced within twice the timeout without a wake-up pipe.
            var wakeAt = now + options.closeTimeout
            if let deadline = state.withLock({ $0.closeDeadline }) {
                if now >= deadline {
                    end(.success(()))
                    return
                }
                wakeAt = min(wakeAt, deadline)
            }
            let full = !draining && inbound.isFull
            if paused && !full { lastHeard = now }
            paused = full
            if !draining, let interval = options.pingInterval {
                if !paused, now >= lastHeard + interval * 3 {
                    end(.failure(.timedOut))
                    sendClose(closePayload(code: WebSocketCloseCode.internalError, reason: "keepalive timeout"))
                    return
                }
                if now >= max(lastHeard, lastPing) + interval {
                    // A ping the peer's connection cannot take (its send timeout passed) ends it: the
                    // one sign of a dead peer while its unread pongs cannot tell us.
                    do throws(WebSocketError) { try send(.ping, []) } catch {
                        if case .io(let errno) = error {
                            end(.failure(.io(errno)))
                            return
                        }
                    }
                    lastPing = now
                }
                wakeAt = min(wakeAt, max(lastHeard, lastPing) + interval)
                if !paused { wakeAt = min(wakeAt, lastHeard + interval * 3) }
            }
            if paused {
                // The consumer is behind: leave the peer's bytes in the kernel, whose full buffers stop
                // its sends. Its silence is then ours, not a dead peer's; a hang-up still shows (RDHUP
                // is reported with unread data before it) and ends the connection, so a handler waiting
                // on `waitUntilEnded` lets go of what it holds.
                inbound.waitForRoom(until: DispatchTime.now() + .milliseconds(Int(min(200, milliseconds(from: now, until: wakeAt)))))
                if let events = try? fd.poll(events: pollReadHangUp, timeoutMilliseconds: 0), events != 0 {
                    end(closeSent ? .success(()) : .failure(.abnormalClosure))
                    return
                }
                continue
            }
            let count: Int
            do {
                guard try fd.poll(timeoutMilliseconds: milliseconds(from: now, until: wakeAt)) != 0 else { continue }
                count = try fd.read(into: &buffer)
            } catch {
                if error == .interrupted || error == .wouldBlock { continue }
                end(closeSent ? .success(()) : .failure(.io(error)))
                return
            }
            if count == 0 {
                end(closeSent ? .success(()) : .failure(.abnormalClosure))
                return
            }
            lastHeard = clock.now
            if !draining { parser.feed(buffer[0..<count]) }
        }
    }

    /// Acts on every complete event in `parser`.
    private func process(_ parser: inout WebSocketParser) -> Progress {
        do {
            while !inbound.isFull, let event = try parser.next() {
                switch event {
                case .message(let message):
                    inbound.queued(message.byteCount)
                    continuation.yield(message)
                case .ping(let payload):
                    // After our close frame the pong is dropped, as RFC 6455 §5.5.2 allows.
                    try? send(.pong, payload)
                case .pong:
                    break
                case .close(let close):
                    let status = close ?? WebSocketClose(code: WebSocketCloseCode.noStatus)
                    state.withLock { $0.peerClose = status }
                    // Echo the status (§5.5.1); a no-op when this frame answers our own close.
                    sendClose(close.map { closePayload(code: $0.code, reason: "") } ?? [])
                    end(close == nil || status.isNormal ? .success(()) : .failure(.closed(status)))
                    return .closeReceived
                }
            }
            return .open
        } catch {
            end(.failure(error))
            sendClose(closePayload(code: error.closeCode, reason: error.description))
            return .failed
        }
    }

    /// Writes one whole frame; clients mask it with a fresh key.
    private func send(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws(WebSocketError) {
        // Encoding and masking happen outside the lock: other writers need not wait for a large copy.
        let frame = encodeFrame(opcode: opcode, payload: payload, maskKey: role == .client ? randomMaskKey() : nil)
        let failure = try writer.withLock { (closeSent: inout Bool) throws(WebSocketError) -> Errno? in
            guard !closeSent else { throw .notOpen }
            if opcode == .close { closeSent = true }
            do throws(Errno) {
                try fd.writeAll(frame)
                return nil
            } catch {
                closeSent = true
                return error
            }
        }
        guard let failure else { return }
        // Half a frame may be on the wire and nothing can follow it: the connection is over, and the
        // shutdown wakes the reader so it ends too.
        end(.failure(.io(failure)))
        _ = try? fd.withRawValue { raw in Glibc.shutdown(raw, Int32(SHUT_RDWR)) }
        throw .io(failure)
    }

    /// Sends our close frame unless one went out already, and starts the close deadline.
    private func sendClose(_ payload: [UInt8]) {
        do {
            try send(.close, payload)
        } catch {
            return
        }
        let deadline = ContinuousClock.now + options.closeTimeout
        state.withLock { $0.closeDeadline = $0.closeDeadline ?? deadline }
    }

    private var closeSent: Bool { writer.withLock { $0 } }

    /// Ends `messages`, once.
    private func end(_ result: Result<Void, WebSocketError>) {
        let first = state.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        guard first else { return }
        switch result {
        case .success: continuation.finish()
        case .failure(let error): continuation.finish(throwing: error)
        }
        inbound.connectionEnded()
    }
}

/// POLLRDHUP (Linux): the peer shut its side down, reported even with unread data before the end.
private let pollReadHangUp: Int16 = 0x2000

/// Whole milliseconds from `now` until `deadline`, rounded up so the deadline has passed on waking.
private func milliseconds(from now: ContinuousClock.Instant, until deadline: ContinuousClock.Instant) -> Int32 {
    guard deadline > now else { return 0 }
    let (seconds, attoseconds) = (deadline - now).components
    let rounded = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: rounded)
}
