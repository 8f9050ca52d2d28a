import BhattiSystem
import Dispatch
import Glibc
import Synchronization

/// One accepted connection, served sequentially on its own thread: read, parse, call the handler,
/// write, repeat while keep-alive holds. Pipelined requests wait in the parser until their turn.
final class HTTPConnection: Sendable {
    private struct State {
        var closed = false
        var aborted = false
        var task: Task<Void, Never>?
        var stream: ResponseStream?
    }

    let id: Int
    private let fd: FileDescriptor
    private let handler: any HTTPHandler
    private let limits: HTTPLimits
    private let onClose: @Sendable (Int) -> Void
    private let state = Mutex(State())

    /// How often a waiting stream checks whether the client hung up while the producer is quiet.
    static let hangupCheckMilliseconds = 200

    init(id: Int, fd: FileDescriptor, handler: any HTTPHandler, limits: HTTPLimits, onClose: @escaping @Sendable (Int) -> Void) {
        self.id = id
        self.fd = fd
        self.handler = handler
        self.limits = limits
        self.onClose = onClose
    }

    /// Serves the connection until it closes; runs on the connection's dedicated thread.
    func run() {
        defer {
            // Only this thread closes the descriptor, so `abort` never shuts down a reused fd number.
            state.withLock { state in
                state.closed = true
                fd.close()
            }
            onClose(id)
        }
        if limits.idleTimeoutMilliseconds > 0 { fd.setReceiveTimeout(milliseconds: limits.idleTimeoutMilliseconds) }
        var parser = HTTPRequestParser(limits: limits)
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isAborted {
            let event: HTTPRequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                if write(HTTPResponse.serializedError(error)) { lingeringClose() }
                return
            }
            switch event {
            case .expectContinue:
                guard write(continueResponse) else { return }
            case .request(let request):
                guard respond(to: request, pipelined: parser.bufferedByteCount > 0) else { return }
            case nil:
                // A timeout (idle limit), a reset, or `abort` all end the connection.
                let count = (try? fd.read(into: &readBuffer)) ?? 0
                if count == 0 { return }
                parser.feed(readBuffer[0..<count])
            }
        }
    }

    /// Ends the connection from another thread (server shutdown): wakes the blocked reader or writer,
    /// cancels the handler task and any stream.
    func abort() {
        let (task, stream) = state.withLock { state -> (Task<Void, Never>?, ResponseStream?) in
            guard !state.closed, !state.aborted else { return (nil, nil) }
            state.aborted = true
            // Through the descriptor's guard: a WebSocket closes it on this connection's thread.
            _ = try? fd.withRawValue { raw in Glibc.shutdown(raw, Int32(SHUT_RDWR)) }
            return (state.task, state.stream)
        }
        task?.cancel()
        stream?.cancel()
    }

    private var isAborted: Bool { state.withLock { $0.aborted } }

    /// Answers one request; false when the connection must close afterwards. `pipelined`: more bytes
    /// followed the request.
    private func respond(to request: HTTPRequest, pipelined: Bool) -> Bool {
        guard let response = callHandler(request) else { return false }
        let keepAlive = request.keepAlive && !response.headers.tokens(for: "Connection").contains("close")
        let headOnly = request.method == "HEAD"
        switch response.body {
        case .bytes(let body):
            let bytes = HTTPResponse.serialize(
                status: response.status, headers: response.headers, body: body, keepAlive: keepAlive, headOnly: headOnly)
            return write(bytes) && keepAlive
        case .stream(let stream):
            if headOnly || HTTPResponse.statusHasNoBody(response.status) {
                stream.cancel()
                let framing: BodyFraming = headOnly ? .chunked : .none
                let head = HTTPResponse.serializeHead(
                    status: response.status, headers: response.headers, framing: framing, keepAlive: keepAlive)
                return write(head) && keepAlive
            }
            return send(stream, response: response, version: request.version, keepAlive: keepAlive)
        case .webSocket(let upgrade):
            serveWebSocket(upgrade, request: request, headers: response.headers, pipelined: pipelined)
            return false
        }
    }

    /// Completes a WebSocket upgrade and serves the socket on this thread until it closes, with the
    /// handler in a task; a request that is not a valid opening handshake gets 400.
    private func serveWebSocket(_ upgrade: WebSocketUpgrade, request: HTTPRequest, headers: HTTPHeaders, pipelined: Bool) {
        // RFC 6455 §4.1: a client sends nothing more until the handshake is answered.
        let problem = request.webSocketHandshakeProblem ?? (pipelined ? "data sent before the upgrade was answered" : nil)
        if let problem {
            _ = write(HTTPResponse.webSocketRefusal(problem))
            return
        }
        guard let key = request.headers["Sec-WebSocket-Key"],
            write(HTTPResponse.webSocketAcceptHead(headers: headers, key: key))
        else { return }
        let socket = WebSocket(fd: fd, role: .server, options: upgrade.options)
        let finished = DispatchSemaphore(value: 0)
        let task = Task {
            await upgrade.handler(socket)
            socket.close()
            finished.signal()
        }
        let aborted = state.withLock { state -> Bool in
            state.task = task
            return state.aborted
        }
        if aborted { task.cancel() }
        socket.run()
        // The handler is joined, not cancelled: it may still be taking the last messages out of the stream.
        finished.wait()
        state.withLock { $0.task = nil }
    }

    /// Runs the async handler in a task and blocks this (dedicated) thread until it answers.
    private func callHandler(_ request: HTTPRequest) -> HTTPResponse? {
        let slot = ResponseSlot()
        let handler = self.handler
        let task = Task {
            let response = await handler.handle(request)
            if Task.isCancelled {
                if case .stream(let stream) = response.body { stream.cancel() }
                slot.fill(nil)
            } else {
                slot.fill(response)
            }
        }
        let aborted = state.withLock { state -> Bool in
            state.task = task
            return state.aborted
        }
        if aborted { task.cancel() }
        let response = slot.wait()
        state.withLock { $0.task = nil }
        return response
    }

    /// Writes a streamed body chunk by chunk as the producer queues it; false when the connection must close.
    private func send(_ stream: ResponseStream, response: HTTPResponse, version: HTTPVersion, keepAlive: Bool) -> Bool {
        // HTTP/1.0 has no chunked coding: the body runs until the connection closes.
        let chunked = version == .http1_1
        let keepAlive = keepAlive && chunked
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
        let head = HTTPResponse.serializeHead(
            status: response.status, headers: response.headers, framing: chunked ? .chunked : .untilClose,
            keepAlive: keepAlive)
        guard write(head) else {
            stream.cancel()
            return false
        }
        stream.start()
        while true {
            switch stream.next(timeoutMilliseconds: Self.hangupCheckMilliseconds) {
            case .data(let data):
                guard write(chunked ? chunkFrame(data) : data) else {
                    stream.cancel()
                    return false
                }
            case .finished:
                return chunked ? write(lastChunk) && keepAlive : false
            case .cancelled:
                return false
            case .idle:
                if peerHungUp() {
                    stream.cancel()
                    return false
                }
            }
        }
    }

    /// Whether the client closed its end: a non-blocking peek reads end of file (0) or an error.
    /// Pipelined bytes read as data, which is not a hang-up.
    private func peerHungUp() -> Bool {
        var byte: UInt8 = 0
        let n = Glibc.recv(fd.rawValue, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        if n > 0 { return false }
        if n == 0 { return true }
        let error = Errno.current
        return error != .wouldBlock && error != .interrupted
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        do {
            try fd.writeAll(bytes)
            return true
        } catch {
            return false
        }
    }

    /// After an error answer, reads and drops what the client is still sending for a moment before
    /// closing: closing with unread input makes the kernel reset the connection, and the client would
    /// lose the answer.
    private func lingeringClose() {
        fd.shutdownWrite()
        fd.setReceiveTimeout(milliseconds: 100)
        let deadline = DispatchTime.now() + .seconds(1)
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        var discarded = 0
        while DispatchTime.now() < deadline, discarded < 16 << 20 {
            let n = (try? fd.read(into: &scratch)) ?? 0
            if n <= 0 { return }
            discarded += n
        }
    }
}
