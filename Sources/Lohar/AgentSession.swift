import BhattiJSON
import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// Serves one host connection: the hello gate, then frames dispatched by stream.
///
/// The reader runs on the calling thread and never blocks on a process, a file or a socket: every
/// stream does its blocking work on its own threads, and requests that touch the disk run on a
/// fresh thread. When the host goes away, every stream it opened hears `connectionClosed` (piped
/// execs are killed; session attachments merely detach).
final class AgentSession: Sendable {
    let state: AgentState
    let writer: FrameWriter
    private let streams = Mutex([UInt32: any GuestStream]())
    private let reader: FileDescriptor

    init(fd: FileDescriptor, state: AgentState) {
        self.state = state
        self.reader = fd
        self.writer = FrameWriter(fd: fd)
    }

    var config: AgentConfiguration { state.base }

    /// Reads frames until the host disconnects or breaks the protocol.
    func run() {
        var decoder = FrameDecoder()
        var greeted = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 1)
        defer {
            buffer.deallocate()
            writer.shut()
            closeAll()
        }
        while true {
            guard let n = try? reader.read(into: buffer), n > 0 else { return }
            decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            do {
                while let frame = try decoder.next() {
                    // Every hello is a gate, not only the first: a new host whose hello is refused gets
                    // nothing until one is accepted, whatever the previous host was allowed.
                    if !greeted || frame.type == .hello {
                        if greeted { closeAll() }
                        greeted = greet(frame)
                        continue
                    }
                    state.touch()
                    handle(frame)
                }
            } catch {
                // A corrupt stream cannot be resynchronised: report and drop the connection.
                writer.sendError(stream: 0, .badRequest, error.description)
                return
            }
        }
    }

    private func greet(_ frame: Frame) -> Bool {
        guard frame.type == .hello, frame.stream == 0 else {
            writer.sendError(stream: frame.stream, .unauthenticated, "send hello first")
            return false
        }
        guard let hello = try? WireJSON.decodeFast(frame, Hello.init(fastJSON:)) else {
            writer.sendError(stream: 0, .badRequest, "malformed hello")
            return false
        }
        guard hello.version == wireProtocolVersion else {
            writer.sendError(stream: 0, .badRequest, WireError.versionMismatch(host: hello.version, guest: wireProtocolVersion).description)
            return false
        }
        let token = state.token
        guard token.isEmpty || constantTimeEqual(hello.token, token) else {
            writer.sendError(stream: 0, .unauthenticated, "invalid token")
            return false
        }
        let reply = HelloReply(
            version: wireProtocolVersion, agentVersion: loharVersion, bootID: Machine.bootID(), uptimeMilliseconds: uptimeMilliseconds(),
            capabilities: [AgentCapability.clock, AgentCapability.commandUser, AgentCapability.fileOperations, AgentCapability.watch],
            lapicMult: GuestTimer.lapicMult)
        writer.send(Frame(stream: 0, type: .helloReply, payload: reply.fastJSON))
        return true
    }

    private func handle(_ frame: Frame) {
        switch frame.type {
        case .ping:
            writer.send(Frame(stream: frame.stream, type: .pong, payload: frame.payload))
        case .hello:
            // Handled by `run` before dispatch: a hello starts a new host connection. Over virtio-serial a
            // quick reconnect may never show the guest an end of file, so the previous host's streams
            // end there, as on a disconnect.
            break
        case .clock:
            // On the reader thread, before any frame after it: a request sent after the clock runs on it.
            guard frame.stream == 0, let clock = try? GuestClock(payload: frame.payload) else {
                return writer.sendError(stream: frame.stream, .badRequest, "malformed clock frame")
            }
            WallClock.set(clock)
        case .credit:
            guard let bytes = try? Credit.decode(frame) else { return }
            streams.withLock { $0[frame.stream] }?.window.grant(bytes)
        case .exec, .session, .fileRead, .fileWrite, .forward, .watch:
            open(frame)
        case .sessionList, .sessionKill, .fileStat, .fileList, .fileMakeDirectory, .fileMove, .fileRemove, .activity, .configure:
            // One-shot requests: answered off the reader thread (they may touch the disk).
            let request = frame
            startThread(name: "lohar-request") { [self] in respond(to: request) }
        case .stdin, .kill, .data, .end, .resize, .detach, .error:
            // A frame for a stream that already ended (a late kill or credit) is dropped.
            streams.withLock { $0[frame.stream] }?.receive(frame)
        case .helloReply, .pong, .stdout, .stderr, .exit, .result, .sessionInfo:
            writer.sendError(stream: frame.stream, .badRequest, "frame type \(frame.type) is guest-to-host only")
        }
    }

    /// Opens a stream for `frame`, within the operation limit.
    private func open(_ frame: Frame) {
        guard frame.stream != 0 else { return writer.sendError(stream: 0, .badRequest, "\(frame.type) on stream 0") }
        guard streams.withLock({ $0[frame.stream] == nil }) else {
            return writer.sendError(stream: frame.stream, .badRequest, "stream \(frame.stream) is already open")
        }
        guard state.beginOperation() else {
            return writer.sendError(
                stream: frame.stream, .resourceExhausted, "too many operations in flight (limit \(AgentState.maxOperations))")
        }
        let id = frame.stream
        let finishedOnce = Mutex(false)
        let context = StreamContext(
            id: id, writer: writer, window: SendWindow(), received: ReceiveCredit(stream: id, writer: writer),
            finished: { [weak self] in
                guard
                    !finishedOnce.withLock({ f in
                        defer { f = true }
                        return f
                    })
                else { return }
                _ = self?.streams.withLock { $0.removeValue(forKey: id) }
                self?.state.endOperation()
            })
        // Made first, registered, then started: its frames and its end always find the entry.
        let made: (any GuestStream)? =
            switch frame.type {
            case .exec: openExec(frame, context)
            case .session: openSession(frame, context)
            case .fileRead: openFileRead(frame, context)
            case .fileWrite: openFileWrite(frame, context)
            case .forward: openForward(frame, context)
            case .watch: openWatch(frame, context)
            default: nil
            }
        guard let stream = made else { return context.finished() }
        streams.withLock { $0[id] = stream }
        stream.start()
    }

    /// Answers a one-shot request with `result` or `error`.
    private func respond(to frame: Frame) {
        do {
            let reply: [UInt8] =
                switch frame.type {
                case .activity:
                    // An empty payload (the idle probes) leaves out the figures only metrics want.
                    WireJSON.encode(
                        state.activity(usage: (try? WireJSON.decode(ActivityRequest.self, from: frame))?.usage ?? false))
                case .configure: try configure(frame)
                case .sessionList: try listSessions(frame)
                case .sessionKill: try killSession(frame)
                case .fileStat: try statFile(frame)
                case .fileList: try listFiles(frame)
                case .fileMakeDirectory: try makeDirectory(frame)
                case .fileMove: try moveFile(frame)
                case .fileRemove: try removeFile(frame)
                default: throw WireErrorMessage(code: .badRequest, message: "\(frame.type) is not a request")
                }
            writer.send(Frame(stream: frame.stream, type: .result, payload: reply))
        } catch let error as WireErrorMessage {
            writer.sendError(stream: frame.stream, error.code, error.message)
        } catch let error as WireError {
            writer.sendError(stream: frame.stream, .badRequest, error.description)
        } catch {
            writer.sendError(stream: frame.stream, .internal, String(describing: error))
        }
    }

    private func closeAll() {
        let open = streams.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for s in open {
            s.window.close()
            s.connectionClosed()
        }
    }
}

/// The agent's own version, reported in hello.
public let loharVersion = "0.3.0"

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<x.count { diff |= x[i] ^ y[i] }
    return diff == 0
}

func uptimeMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_BOOTTIME, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Decodes a request payload or throws a `bad_request` the host will see.
func decodeRequest<T: Decodable>(_ type: T.Type, _ frame: Frame) throws -> T {
    do { return try WireJSON.decode(T.self, from: frame) } catch {
        throw WireErrorMessage(code: .badRequest, message: "malformed \(frame.type) request: \(error)")
    }
}
