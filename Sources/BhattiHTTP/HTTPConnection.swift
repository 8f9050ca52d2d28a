import BhattiSystem
import CBhattiShim
import Glibc

/// One accepted connection, driven by the event loop: read and parse, run the handler in a task,
/// write its answer, repeat while keep-alive holds. Requests are answered one at a time in order;
/// pipelined ones wait in the parser until their turn.
///
/// A streamed request body (`HTTPLimits.streamsBody`) is read here too, while its handler runs: the
/// loop already multiplexes readiness and deadlines, so pausing the socket when the handler's queue
/// is full and resuming when it drains is an interest change, not a thread per upload. The socket
/// never reads past the body, so a fully read one keeps the connection; one the handler answered
/// before its end is left unread and the connection closes after the answer, lingering as for errors.
final class HTTPConnection: LoopSource, @unchecked Sendable {
    // SAFETY: loop-confined. Created, driven and closed on the loop thread; handler tasks and lent
    // threads only hand it back to the loop through `EventLoop.execute`.

    /// What to do once `writing` has flushed its bytes.
    enum AfterWrite {
        /// Read the next request.
        case read
        /// Close (the response said `Connection: close`).
        case close
        /// The answer was an error: close gently so the client still gets it.
        case linger
    }

    enum Phase {
        /// Waiting for (the rest of) a request.
        case reading
        /// The handler's task is running; the socket is not read until its answer is out.
        case handling(Task<Void, Never>, Exchange)
        /// Bytes the kernel has not taken yet; EPOLLOUT is watched while its buffer is full.
        case writing(OutputBuffer, then: AfterWrite)
        /// After an error answer: our side is shut for writing and input is dropped until the deadline.
        case lingering(discarded: Int)
        /// A thread owns the socket (blocking) for a stream or a WebSocket.
        case handedOff(HandOff)
        case closed
    }

    /// What answering a request needs to know about it.
    struct Exchange {
        /// The request without its body.
        var head: HTTPRequest
        /// More bytes followed the request (a WebSocket client must wait for the 101).
        var pipelined: Bool
        /// A streamed body still arriving; nil once its last byte is read (or without one).
        var upload: Upload?
        /// A chunked body broke its framing midway: what follows on the socket cannot be parsed, so the
        /// connection closes after the answer.
        var bodyBroken = false
    }

    /// A streamed request body being read from the socket into the handler's stream.
    struct Upload {
        let stream: RequestBodyStream
        /// Body bytes still in the socket; nil for a chunked body, which the parser de-chunks to its end.
        var remaining: Int?
        /// The stream is full: the socket is not read until the handler takes a chunk.
        var paused: Bool
    }

    private let fd: FileDescriptor
    private let core: ServerCore
    private var loop: EventLoop { core.loop }
    private var limits: HTTPLimits { core.limits }
    private var parser: HTTPRequestParser
    private(set) var phase = Phase.reading
    /// Nil while the loop does not watch the socket (lent to a thread, or closed).
    private var token: LoopToken?
    /// When the request head being read must be complete, however slowly its bytes trickle in.
    private var headDeadline: ContinuousClock.Instant?
    /// A graceful shutdown began: finish what has started, then close.
    private var draining = false
    /// The client reset the connection while its handler ran.
    private var peerGone = false

    /// Set for a connection handed over by a TLS terminator: its client, and that it was secure.
    private let handedOver: (remoteAddress: String?, secure: Bool)?

    init(fd: FileDescriptor, core: ServerCore, handedOver: (remoteAddress: String?, secure: Bool)? = nil) {
        self.fd = fd
        self.core = core
        self.handedOver = handedOver
        parser = HTTPRequestParser(limits: core.limits)
    }

    /// Starts watching the socket for the first request.
    func start() throws(Errno) {
        let token = try loop.register(fd: fd.rawValue, interest: .readable, source: self)
        self.token = token
        loop.setDeadline(token, readDeadline())
    }

    // MARK: Events

    func ready(_ events: PollEvents) {
        switch phase {
        case .reading:
            receive()
        case .lingering(let discarded):
            discard(already: discarded)
        case .writing:
            if events.isDisjoint(with: [.writable, .error, .hangUp]) {
                // Readable only: input waits until the answer is out.
                if let token { loop.setInterest(token, .writable) }
            } else {
                drive()
            }
        case .handling(_, let exchange) where exchange.upload != nil:
            // A hang-up may still leave body bytes to read; recv says when they end. Paused, the
            // (level-triggered) hang-up would only fire again, and the body cannot complete unread.
            if exchange.upload?.paused == true {
                uploadBroke(.disconnected)
            } else {
                receiveBody()
            }
        case .handling(let task, _):
            // A reset, or (TCP reports a FIN only as readable) end of input: the client is gone.
            if !events.isDisjoint(with: [.error, .hangUp]) || fd.peerHungUp() {
                // Nobody will read the answer, so the handler's work stops (an exec's command is
                // killed); stop watching (it would keep firing); the answer will fail to write and close.
                peerGone = true
                unwatch()
                task.cancel()
            } else {
                // Pipelined bytes: they wait in the kernel until this request is answered.
                if let token { loop.setInterest(token, []) }
            }
        case .handedOff, .closed:
            break
        }
    }

    /// An idle, head, write or lingering deadline passed: the client is too slow or gone.
    func deadlinePassed() {
        if case .handling(_, let exchange) = phase { exchange.upload?.stream.fail(.timedOut) }
        close()
    }

    /// The handler's answer, delivered on the loop.
    func answered(_ answer: Answer) {
        let response = answer.response
        guard case .handling(_, let exchange) = phase else {
            // Aborted meanwhile: nobody will consume the stream.
            response.body.cancelStream()
            return
        }
        let request = exchange.head
        // Answered before its body was all read: what is left must not be parsed as a request.
        let unread = exchange.upload != nil || exchange.bodyBroken
        exchange.upload?.stream.fail(.abandoned)
        let keepAlive = answer.keepAlive && !draining && !peerGone && !unread
        let headOnly = request.method == "HEAD"
        switch response.body {
        case .bytes(let body):
            let bytes =
                keepAlive == answer.keepAlive
                ? answer.wire
                : HTTPResponse.serialize(
                    status: response.status, headers: response.headers, body: body, keepAlive: keepAlive, headOnly: headOnly)
            phase = .writing(OutputBuffer(bytes), then: keepAlive ? .read : unread ? .linger : .close)
        case .stream(let stream):
            if headOnly || HTTPResponse.statusHasNoBody(response.status) {
                stream.cancel()
                let head = HTTPResponse.serializeHead(
                    status: response.status, headers: response.headers, framing: headOnly ? .chunked : .none,
                    keepAlive: keepAlive)
                phase = .writing(OutputBuffer(head), then: keepAlive ? .read : .close)
            } else {
                // HTTP/1.0 has no chunked coding: the body runs until the connection closes.
                let chunked = request.version == .http1_1
                let head = HTTPResponse.serializeHead(
                    status: response.status, headers: response.headers, framing: chunked ? .chunked : .untilClose,
                    keepAlive: keepAlive && chunked)
                lend { $0.serveStream(stream, head: head, chunked: chunked, keepAlive: keepAlive) }
                return
            }
        case .tunnel(let tunnel):
            lend { handOff in
                handOff.serveTunnel(tunnel)
                return false
            }
            return
        case .webSocket(let upgrade):
            // RFC 6455 §4.1: a client sends nothing more until the handshake is answered.
            let problem =
                request.webSocketHandshakeProblem
                ?? (exchange.pipelined ? "data sent before the upgrade was answered" : nil)
            if let problem {
                phase = .writing(OutputBuffer(HTTPResponse.webSocketRefusal(problem)), then: .close)
            } else {
                let head = HTTPResponse.webSocketAcceptHead(
                    headers: response.headers, key: request.headers["Sec-WebSocket-Key"] ?? "")
                lend { handOff in
                    handOff.serveWebSocket(upgrade, head: head)
                    return false
                }
                return
            }
        }
        drive()
    }

    /// The lent thread is done with the socket: serve the next request, or close.
    func handOffEnded(keepAlive: Bool) {
        guard case .handedOff = phase else { return }
        guard keepAlive, !draining, (try? valueOrNegatedErrno(bh_set_nonblocking(fd.rawValue, 1))) != nil else {
            close()
            return
        }
        phase = .reading
        drive()
    }

    /// Graceful shutdown: an idle connection closes now, one with an exchange under way after it.
    func drain() {
        draining = true
        switch phase {
        case .reading where !parser.isMidRequest:
            close()
        case .handedOff(let handOff):
            handOff.drain()
        default:
            break
        }
    }

    /// Immediate shutdown: cancels the handler or the lent response and closes.
    func abort() {
        switch phase {
        case .handling(let task, _): task.cancel()
        case .handedOff(let handOff): handOff.abort()
        default: break
        }
        close()
    }

    // MARK: The state machine

    /// Advances through parsed requests and flushed writes until the connection must wait.
    private func drive() {
        while true {
            switch phase {
            case .reading:
                guard nextRequest() else { return }
            case .writing(var output, let then):
                switch flush(&output) {
                case .failed:
                    close()
                    return
                case .blocked:
                    phase = .writing(output, then: then)
                    watch(.writable, deadline: after(limits.writeTimeoutMilliseconds))
                    return
                case .done:
                    switch then {
                    case .read: phase = .reading
                    case .close:
                        close()
                        return
                    case .linger:
                        linger()
                        return
                    }
                }
            default:
                return
            }
        }
    }

    /// Takes the next event out of the parser; true when the phase moved on to something to drive.
    private func nextRequest() -> Bool {
        let event: HTTPRequestParser.Event?
        do {
            event = try parser.next()
        } catch {
            headDeadline = nil
            phase = .writing(OutputBuffer(HTTPResponse.serializedRejection(core.handler.rejection(error), for: error)), then: .linger)
            return true
        }
        switch event {
        case .expectContinue:
            phase = .writing(OutputBuffer(continueResponse), then: .read)
            return true
        case .request(let request):
            startHandler(request)
            return false
        case .streamedRequest(var request, let length):
            let stream = RequestBodyStream(length: length, capacity: limits.maxQueuedBodyBytes)
            let (loop, connection) = (loop, self)
            stream.onSpace { loop.execute { connection.resumeBody() } }
            request.bodyStream = stream
            var upload = Upload(stream: stream, remaining: length, paused: false)
            let complete: Bool
            do {
                // What came with the head: a Content-Length body's start, or chunks the parser holds.
                complete = try deliver(length.map { parser.takeBody(upTo: $0) } ?? [], to: &upload)
            } catch {
                // Broken before any handler ran: refused like any request the parser cannot read.
                stream.fail(.invalid(error))
                headDeadline = nil
                phase = .writing(
                    OutputBuffer(HTTPResponse.serializedRejection(core.handler.rejection(error), for: error)), then: .linger)
                return true
            }
            startHandler(request, upload: complete ? nil : upload)
            return false
        case nil:
            if peerGone || (draining && !parser.isMidRequest) {
                close()
            } else {
                watch(.readable, deadline: readDeadline())
            }
            return false
        }
    }

    private func startHandler(_ request: HTTPRequest, upload: Upload? = nil) {
        headDeadline = nil
        var head = request
        head.body = []
        let exchange = Exchange(head: head, pipelined: parser.bufferedByteCount > 0, upload: upload)
        let (handler, loop, connection) = (core.handler, loop, self)
        var request = request
        request.remoteAddress = handedOver.map(\.remoteAddress) ?? remoteAddress
        request.isSecure = handedOver?.secure ?? false
        let respond: @Sendable () async -> Void = { [request] in
            let answer = Answer(await handler.handle(request), to: request)
            // Queued even from the loop thread: a handler that never suspended is still inside
            // `startHandler` here, before the phase says it is handling.
            if !loop.execute({ connection.answered(answer) }) { answer.response.body.cancelStream() }
        }
        let task =
            switch handler.placement(for: request) {
            case .pool: Task { await respond() }
            case .loop: Task.immediate(executorPreference: loop) { await respond() }
            }
        phase = .handling(task, exchange)
        if let upload {
            // The body keeps coming under the idle limit, unless the handler's queue is already full.
            watch(upload.paused ? [] : .readable, deadline: upload.paused ? nil : after(limits.idleTimeoutMilliseconds))
            return
        }
        // Readable interest stays on: a client that does not pipeline then costs no epoll_ctl per
        // request. Pipelined bytes arriving now turn it off in `ready`.
        if let token { loop.setDeadline(token, nil) }
    }

    // MARK: A streamed request body

    /// Reads the next piece of a streamed body into the handler's stream.
    private func receiveBody() {
        guard case .handling(let task, var exchange) = phase, var upload = exchange.upload else { return }
        let buffer = core.readBuffer
        // A Content-Length body is never read past its end; a chunked one's end is found by the parser,
        // which keeps whatever follows it for the next request.
        let n = Glibc.recv(fd.rawValue, buffer.baseAddress, min(buffer.count, upload.remaining ?? buffer.count), 0)
        guard n > 0 else {
            if n == 0 || (errno != EAGAIN && errno != EINTR) { uploadBroke(.disconnected) }
            return
        }
        let complete: Bool
        do {
            complete = try deliver(Array(UnsafeBufferPointer(rebasing: buffer[0..<n])), to: &upload)
        } catch {
            // The handler's stream throws the error, for it to answer; nothing more is read.
            upload.stream.fail(.invalid(error))
            exchange.upload = nil
            exchange.bodyBroken = true
            phase = .handling(task, exchange)
            watch([])
            return
        }
        if complete {
            exchange.upload = nil
            phase = .handling(task, exchange)
            // Now it waits like any handler: readable interest on, no deadline.
            watch(.readable)
            return
        }
        exchange.upload = upload
        phase = .handling(task, exchange)
        if upload.paused {
            watch([])
        } else if let token {
            loop.setDeadline(token, after(limits.idleTimeoutMilliseconds))
        }
    }

    /// Hands `received` body bytes (a chunked body's go through the parser first) to the handler's
    /// stream; whether the body is now complete.
    private func deliver(_ received: [UInt8], to upload: inout Upload) throws(HTTPParseError) -> Bool {
        var bytes = received
        let complete: Bool
        if let remaining = upload.remaining {
            upload.remaining = remaining - received.count
            complete = remaining == received.count
        } else {
            parser.feed(received)
            (bytes, complete) = try parser.takeChunkedBody()
        }
        if !bytes.isEmpty { upload.paused = !upload.stream.push(bytes) }
        if complete { upload.stream.finish() }
        return complete
    }

    /// The handler took a chunk out of a full stream: read on.
    private func resumeBody() {
        guard case .handling(let task, var exchange) = phase, var upload = exchange.upload, upload.paused else { return }
        upload.paused = false
        exchange.upload = upload
        phase = .handling(task, exchange)
        watch(.readable, deadline: after(limits.idleTimeoutMilliseconds))
    }

    /// The client went away mid-body: the handler's stream throws, and its answer is written if it still can be.
    private func uploadBroke(_ error: RequestBodyError) {
        guard case .handling(let task, var exchange) = phase, let upload = exchange.upload else { return }
        upload.stream.fail(error)
        exchange.upload = nil
        phase = .handling(task, exchange)
        peerGone = true
        unwatch()
    }

    /// The peer's IP address (TCP), read once.
    private lazy var remoteAddress: String? = {
        var buffer = [CChar](repeating: 0, count: 64)
        guard bh_peer_address(fd.rawValue, &buffer, buffer.count) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Lends the socket to a thread running `body`, which returns whether to keep the connection.
    private func lend(_ body: @escaping @Sendable (HandOff) -> Bool) {
        unwatch()
        let handOff = HandOff(fd: fd)
        phase = .handedOff(handOff)
        guard (try? valueOrNegatedErrno(bh_set_nonblocking(fd.rawValue, 0))) != nil else {
            handOff.abort()
            close()
            return
        }
        setSendTimeout(milliseconds: limits.writeTimeoutMilliseconds)
        let (loop, connection) = (loop, self)
        startThread(name: "bhatti-http-lent") {
            let keepAlive = body(handOff)
            if !loop.execute({ connection.handOffEnded(keepAlive: keepAlive) }) { handOff.fd.close() }
        }
    }

    // MARK: Socket I/O (loop-owned: only the loop closes `fd`, so the raw number is safe to use)

    private func receive() {
        let buffer = core.readBuffer
        let n = Glibc.recv(fd.rawValue, buffer.baseAddress, buffer.count, 0)
        if n > 0 {
            parser.feed(UnsafeBufferPointer(rebasing: buffer[0..<n]))
            drive()
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            // End of input between requests (or mid-request, which cannot be answered) or a reset.
            close()
        }
    }

    private enum FlushResult {
        case done
        case blocked
        case failed
    }

    private func flush(_ output: inout OutputBuffer) -> FlushResult {
        while !output.isEmpty {
            let n = output.bytes.withUnsafeBytes { raw in
                Glibc.send(fd.rawValue, raw.baseAddress! + output.offset, raw.count - output.offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                output.offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return n < 0 && errno == EAGAIN ? .blocked : .failed
            }
        }
        return .done
    }

    /// After an error answer, reads and drops what the client is still sending for a moment before
    /// closing: closing with unread input makes the kernel reset the connection, and the client would
    /// lose the answer.
    private func linger() {
        Glibc.shutdown(fd.rawValue, Int32(SHUT_WR))
        phase = .lingering(discarded: 0)
        watch(.readable, deadline: loop.now + .seconds(1))
    }

    private func discard(already discarded: Int) {
        let buffer = core.readBuffer
        let n = Glibc.recv(fd.rawValue, buffer.baseAddress, buffer.count, 0)
        if n > 0, discarded + n < 16 << 20 {
            phase = .lingering(discarded: discarded + n)
        } else if n >= 0 || (errno != EAGAIN && errno != EINTR) {
            close()
        }
    }

    private func close() {
        if case .closed = phase { return }
        if case .handling(_, let exchange) = phase { exchange.upload?.stream.fail(.abandoned) }
        phase = .closed
        unwatch()
        core.forget(self)
        fd.close()
        core.finishIfIdle()
    }

    // MARK: Interest and deadlines

    /// Watches for `interest` (registering again after a lent thread gave the socket back) and sets the deadline.
    private func watch(_ interest: PollEvents, deadline: ContinuousClock.Instant? = nil) {
        if token == nil {
            do {
                token = try loop.register(fd: fd.rawValue, interest: interest, source: self)
            } catch {
                close()
                return
            }
        }
        guard let token else { return }
        loop.setInterest(token, interest)
        loop.setDeadline(token, deadline)
    }

    private func unwatch() {
        guard let token else { return }
        loop.deregister(token)
        self.token = nil
    }

    /// While reading: the idle limit from now, and during a head also the head limit from its first byte.
    private func readDeadline() -> ContinuousClock.Instant? {
        let idle = after(limits.idleTimeoutMilliseconds)
        guard parser.isReadingHead else {
            headDeadline = nil
            return idle
        }
        let head = headDeadline ?? after(limits.headerTimeoutMilliseconds)
        headDeadline = head
        guard let head else { return idle }
        return idle.map { min($0, head) } ?? head
    }

    /// Now plus `milliseconds`; nil for 0, which means no limit.
    private func after(_ milliseconds: Int) -> ContinuousClock.Instant? {
        milliseconds > 0 ? loop.now + .milliseconds(milliseconds) : nil
    }

    /// Bounds each blocking write of a lent thread, so a client that stops reading frees it.
    private func setSendTimeout(milliseconds: Int) {
        guard milliseconds > 0 else { return }
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd.rawValue, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// A handler's response as its task hands it to the loop. A buffered body is serialized there, in
/// parallel with the loop, which then only writes it (unless a shutdown began and it must say close).
struct Answer: Sendable {
    let response: HTTPResponse
    /// Whether the request and the response let the connection stay open.
    let keepAlive: Bool
    /// The whole response for a `.bytes` body (empty otherwise), framed for `keepAlive`.
    let wire: [UInt8]

    init(_ response: HTTPResponse, to request: HTTPRequest) {
        self.response = response
        keepAlive = request.keepAlive && !response.headers.tokens(for: "Connection").contains("close")
        if case .bytes(let body) = response.body {
            wire = HTTPResponse.serialize(
                status: response.status, headers: response.headers, body: body, keepAlive: keepAlive,
                headOnly: request.method == "HEAD")
        } else {
            wire = []
        }
    }
}

/// Serialized bytes being written, with how many the kernel has taken.
struct OutputBuffer {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isEmpty: Bool { offset >= bytes.count }
}

extension ResponseBody {
    /// Cancels a stream that will never be sent (its producer stops).
    func cancelStream() {
        if case .stream(let stream) = self { stream.cancel() }
    }
}
