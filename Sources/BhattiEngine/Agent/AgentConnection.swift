public import BhattiSystem
public import BhattiWire
import Foundation
import Synchronization

/// Failures on the host↔guest channel.
public enum AgentError: Error, Sendable, CustomStringConvertible {
    case connect(path: String, Errno)
    /// The connection dropped (VM stopped, QEMU died, or the channel was closed).
    case disconnected
    case timedOut(String)
    case protocolError(WireError)
    /// The agent refused or failed the request.
    case remote(WireErrorMessage)
    /// The agent does not list the capability the request needs (an older lohar): nothing was sent.
    case unsupported(String)

    public var description: String {
        switch self {
        case .connect(let path, let e): "cannot connect to the agent socket \(path): \(e)"
        case .disconnected: "the guest agent connection closed"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .protocolError(let e): "agent protocol error: \(e)"
        case .remote(let m): m.message
        case .unsupported(let what): what
        }
    }
}

/// The host side of one multiplexed agent channel.
///
/// A dedicated reader thread decodes frames and routes them to the stream that owns their id; each
/// stream is an `AsyncThrowingStream` the caller iterates. Writes are whole frames, in order, that never
/// block the sender (`QueuedWriter`). When the channel drops, every open stream ends with
/// `AgentError.disconnected`.
public final class AgentConnection: Sendable {
    private struct Stream {
        var continuation: AsyncThrowingStream<Frame, any Error>.Continuation
        let window = OutboundWindow()
        /// Bytes consumed since the last credit grant to the guest.
        var consumed = 0
    }
    private struct State {
        var nextStream: UInt32 = 1
        var streams: [UInt32: Stream] = [:]
        var closed = false
    }
    private let fd: FileDescriptor
    private let state = Mutex(State())
    /// Frames go out whole and in order without blocking their sender (exec handlers run on the HTTP
    /// loop thread); a write that fails closes the channel, which ends every stream.
    private let writer: QueuedWriter
    public let hello: HelloReply

    private init(fd: FileDescriptor, hello: HelloReply) {
        self.fd = fd
        self.hello = hello
        writer = QueuedWriter(fd: fd) { _ in fd.close() }
    }

    /// Says hello on `fd` and waits for the agent's reply (at most `timeout`).
    public static func handshake(fd: FileDescriptor, token: String = "", timeout: Duration) async throws -> AgentConnection {
        let request = Frame(stream: 0, type: .hello, payload: Hello(token: token).fastJSON)
        do { try fd.writeAll(request.encoded()) } catch { throw AgentError.disconnected }
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        // The reply comes when the guest's agent opens its port: poll for it on a dedicated thread.
        let (reply, decoder) = try await Blocking.run(name: "agent-hello") { () throws -> (Frame, FrameDecoder) in
            var decoder = FrameDecoder()
            let deadline = ContinuousClock.now + .milliseconds(ms)
            while true {
                // Frames on other streams are leftovers of a previous connection on the same channel
                // (virtio-serial keeps one byte stream across host reconnects): skip them.
                if let frame = try decoder.next() {
                    if frame.stream == 0 && (frame.type == .helloReply || frame.type == .error) { return (frame, decoder) }
                    continue
                }
                let left = deadline - ContinuousClock.now
                guard left > .zero else { throw AgentError.timedOut("the guest agent's hello") }
                let leftMs = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                let events = try fd.poll(events: Int16(POLLIN), timeoutMilliseconds: leftMs)
                if events == 0 { continue }
                let bytes = try fd.read(upTo: 64 * 1024)
                if bytes.isEmpty { throw AgentError.disconnected }
                decoder.append(bytes)
            }
        }
        switch reply.type {
        case .helloReply:
            let hello = try WireJSON.decodeFast(reply, HelloReply.init(fastJSON:))
            guard hello.version == wireProtocolVersion else {
                throw AgentError.protocolError(.versionMismatch(host: wireProtocolVersion, guest: hello.version))
            }
            let connection = AgentConnection(fd: fd, hello: hello)
            startThread(name: "agent-reader") { connection.readLoop(decoder) }
            // A new connection follows a boot or a restore: the guest's clock is as old as its snapshot.
            connection.sendClock()
            return connection
        case .error:
            throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: reply))
        default:
            throw AgentError.protocolError(.malformedPayload(reply.type, "expected hello reply"))
        }
    }

    /// Connects to an agent listening on a unix socket (QEMU's chardev, or lohar's test mode).
    public static func connect(unixPath path: String, token: String = "", timeout: Duration) async throws -> AgentConnection {
        let fd: FileDescriptor
        do { fd = try Socket.connect(unixPath: path) } catch { throw AgentError.connect(path: path, error) }
        do { return try await handshake(fd: fd, token: token, timeout: timeout) } catch {
            fd.close()
            throw error
        }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Hands the guest the host's wall clock. No reply: the agent takes frames in order, so whatever
    /// is sent after this runs on the new time. Agents without the capability are left alone, and a
    /// closed channel fails the next request instead.
    public func sendClock() {
        guard hello.can(GuestClock.capability) else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let clock = GuestClock(nanosecondsSinceEpoch: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
        try? send(Frame(stream: 0, type: .clock, payload: clock.payload))
    }

    /// Throws `.unsupported` unless the agent's hello listed `capability`: a request it does not know
    /// would be misread (a field ignored) or end the whole channel (a frame type).
    func require(_ capability: String, for what: String) throws(AgentError) {
        guard hello.can(capability) else {
            throw .unsupported(
                "the guest agent in this sandbox (lohar \(hello.agentVersion)) cannot \(what); a sandbox from a newer image can")
        }
    }

    /// Drops the channel; open streams end with `.disconnected`.
    public func close() { fd.close() }

    /// A new stream: its id and the frames the guest sends on it.
    func openStream() throws -> (UInt32, AsyncThrowingStream<Frame, any Error>) {
        let (stream, continuation) = AsyncThrowingStream<Frame, any Error>.makeStream()
        let id: UInt32? = state.withLock { s in
            if s.closed { return nil }
            let id = s.nextStream
            s.nextStream = s.nextStream &+ 1 == 0 ? 1 : s.nextStream &+ 1
            s.streams[id] = Stream(continuation: continuation)
            return id
        }
        guard let id else { throw AgentError.disconnected }
        return (id, stream)
    }

    func closeStream(_ id: UInt32) { failStream(id, nil) }

    /// The life of a call on its own stream: opens it, sends `type` with `payload`, and hands the
    /// guest's frames to `body`. If `body` throws or the task is cancelled, the guest is sent `stop`
    /// (`kill`; `detach` leaves a session running) and the stream closed, so the guest stops working
    /// for a caller that has gone (a late frame for a stream the guest already ended is dropped
    /// there). When `body` returns the stream is closed too, unless `keepOpen`: then what `body`
    /// returned owns it (a relay, a session attachment).
    func withStream<R>(
        _ type: FrameType, _ payload: [UInt8] = [], stop: FrameType = .kill, keepOpen: Bool = false,
        _ body: (_ id: UInt32, _ frames: AsyncThrowingStream<Frame, any Error>) async throws -> R
    ) async throws -> R {
        let (id, frames) = try openStream()
        var handedOver = false
        defer { if !handedOver { closeStream(id) } }
        try send(Frame(stream: id, type: type, payload: payload))
        let result = try await withTaskCancellationHandler {
            do { return try await body(id, frames) } catch {
                try? send(Frame(stream: id, type: stop))
                throw error
            }
        } onCancel: {
            try? send(Frame(stream: id, type: stop))
            // Ends the frames, so `body` stops waiting for them.
            closeStream(id)
        }
        handedOver = keepOpen
        return result
    }

    /// Ends stream `id` for its reader: its frames end, with `error` when given. Later frames for it
    /// are dropped. False when it had already ended.
    @discardableResult
    func failStream(_ id: UInt32, _ error: (any Error)?) -> Bool {
        guard let stream = state.withLock({ $0.streams.removeValue(forKey: id) }) else { return false }
        stream.window.close()
        stream.continuation.finish(throwing: error)
        return true
    }

    /// Sends `bytes` as metered frames of `type` on stream `id`, within the guest's credit.
    func sendMetered(_ id: UInt32, _ type: FrameType, _ bytes: [UInt8]) async throws {
        guard let window = state.withLock({ $0.streams[id]?.window }) else { throw AgentError.disconnected }
        var offset = 0
        while offset < bytes.count {
            let n = try await window.take(upTo: min(bytes.count - offset, 64 * 1024))
            try send(Frame(stream: id, type: type, payload: Array(bytes[offset..<offset + n])))
            offset += n
        }
    }

    /// Sends on stream `id` stop waiting for credit the guest has not given (see `OutboundWindow.stopWaiting`).
    func stopWaitingForCredit(_ id: UInt32) { state.withLock { $0.streams[id]?.window }?.stopWaiting() }

    /// Records that the caller consumed `bytes` of metered data on stream `id`; grants credit back in batches.
    func consumed(_ id: UInt32, _ bytes: Int) {
        let grant: Int = state.withLock { s in
            guard var stream = s.streams[id] else { return 0 }
            stream.consumed += bytes
            let g = stream.consumed >= Credit.grantThreshold ? stream.consumed : 0
            if g > 0 { stream.consumed = 0 }
            s.streams[id] = stream
            return g
        }
        if grant > 0 { try? send(Frame(stream: id, type: .credit, payload: Credit.payload(grant))) }
    }

    /// A one-shot request: sends `type` with `payload` and decodes the `result`.
    func request<R: Decodable>(_ type: FrameType, _ payload: [UInt8] = [], as: R.Type) async throws -> R {
        try await withStream(type, payload) { _, frames in
            for try await frame in frames {
                switch frame.type {
                case .result: return try WireJSON.decode(R.self, from: frame)
                case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default: continue
                }
            }
            throw AgentError.disconnected
        }
    }

    /// Opens a long-lived stream (a relay, a watch): sends `type` with `payload`, waits for the guest's
    /// `result`, then hands the stream (its id, and its frames from there on) to `make`, whose value
    /// owns it. Cancelled or failed before then, `withStream` makes the guest let go.
    func openAccepted<T>(
        _ type: FrameType, _ payload: [UInt8], _ make: (_ id: UInt32, _ frames: AsyncThrowingStream<Frame, any Error>.Iterator) -> T
    ) async throws -> T {
        try await withStream(type, payload, keepOpen: true) { id, frames in
            var iterator = frames.makeAsyncIterator()
            while let frame = try await iterator.next() {
                switch frame.type {
                case .result: return make(id, iterator)
                case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default: continue
                }
            }
            try Task.checkCancellation()
            throw AgentError.disconnected
        }
    }

    /// Sends one frame, or queues it behind those the guest has not taken yet; never waits for the
    /// guest. Throws `.disconnected` when the channel is gone.
    func send(_ frame: Frame) throws {
        do { try writer.write(frame.encoded()) } catch { throw AgentError.disconnected }
    }

    private func readLoop(_ initial: FrameDecoder) {
        var decoder = initial
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 1)
        defer { buffer.deallocate() }
        var failure: any Error = AgentError.disconnected
        reading: while true {
            do {
                while let frame = try decoder.next() { route(frame) }
            } catch {
                failure = AgentError.protocolError(error)
                break reading
            }
            guard let n = try? fd.read(into: buffer), n > 0 else { break }
            decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        let open = state.withLock { s in
            s.closed = true
            defer { s.streams.removeAll() }
            return Array(s.streams.values)
        }
        for stream in open {
            stream.window.close()
            stream.continuation.finish(throwing: failure)
        }
        fd.close()
    }

    private func route(_ frame: Frame) {
        guard let stream = state.withLock({ $0.streams[frame.stream] }) else { return }
        if frame.type == .credit {
            if let bytes = try? Credit.decode(frame) { stream.window.grant(bytes) }
            return
        }
        stream.continuation.yield(frame)
    }
}
