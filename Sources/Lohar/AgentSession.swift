import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// Serves one host connection: the hello gate, then frames dispatched by stream.
///
/// The reader runs on the calling thread and never blocks on a process: exec output, stdin and
/// exit reporting all have their own threads. When the host goes away, every piped exec it started
/// is killed (nobody is left to read its output).
public final class AgentSession: Sendable {
    private let config: AgentConfiguration
    private let writer: FrameWriter
    private let waiter: ChildWaiter
    private let streams = Mutex([UInt32: ExecStream]())
    private let reader: FileDescriptor

    init(fd: FileDescriptor, config: AgentConfiguration, waiter: ChildWaiter) {
        self.config = config
        self.reader = fd
        self.writer = FrameWriter(fd: fd)
        self.waiter = waiter
    }

    /// Reads frames until the host disconnects or breaks the protocol.
    func run() {
        var decoder = FrameDecoder()
        var greeted = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 1)
        defer { buffer.deallocate(); killAll() }
        while true {
            guard let n = try? reader.read(into: buffer), n > 0 else { return }
            decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            do {
                while let frame = try decoder.next() {
                    if !greeted {
                        greeted = greet(frame)
                        continue
                    }
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
        guard let hello = try? WireJSON.decode(Hello.self, from: frame) else {
            writer.sendError(stream: 0, .badRequest, "malformed hello")
            return false
        }
        guard hello.version == wireProtocolVersion else {
            writer.sendError(stream: 0, .badRequest, WireError.versionMismatch(host: hello.version, guest: wireProtocolVersion).description)
            return false
        }
        guard config.token.isEmpty || constantTimeEqual(hello.token, config.token) else {
            writer.sendError(stream: 0, .unauthenticated, "invalid token")
            return false
        }
        let reply = HelloReply(
            version: wireProtocolVersion, agentVersion: loharVersion, bootID: Machine.bootID(), uptimeMilliseconds: uptimeMilliseconds())
        writer.send(Frame(stream: 0, type: .helloReply, payload: WireJSON.encode(reply)))
        return true
    }

    private func handle(_ frame: Frame) {
        switch frame.type {
        case .ping:
            writer.send(Frame(stream: frame.stream, type: .pong, payload: frame.payload))
        case .hello:
            // A host may re-greet (after its own restart); answer again.
            _ = greet(frame)
        case .exec:
            guard frame.stream != 0 else { return writer.sendError(stream: 0, .badRequest, "exec on stream 0") }
            guard streams.withLock({ $0[frame.stream] == nil }) else {
                return writer.sendError(stream: frame.stream, .badRequest, "stream \(frame.stream) is already open")
            }
            guard let request = try? WireJSON.decode(ExecRequest.self, from: frame) else {
                return writer.sendError(stream: frame.stream, .badRequest, "malformed exec request")
            }
            // Register before the process can finish, so `onFinish` always finds the entry to remove.
            let exec = streams.withLock { table -> ExecStream? in
                let e = ExecStream.start(
                    stream: frame.stream, request: request, config: config, writer: writer, waiter: waiter,
                    onFinish: { [weak self] id in _ = self?.streams.withLock { $0.removeValue(forKey: id) } })
                if let e { table[frame.stream] = e }
                return e
            }
            _ = exec
        case .stdin:
            streams.withLock { $0[frame.stream] }?.feedStdin(frame.payload)
        case .kill:
            streams.withLock { $0[frame.stream] }?.kill()
        case .error:
            // The host gave up on a stream: treat as cancel.
            streams.withLock { $0[frame.stream] }?.kill()
        case .helloReply, .pong, .stdout, .stderr, .exit, .result, .sessionInfo:
            writer.sendError(stream: frame.stream, .badRequest, "frame type \(frame.type) is guest-to-host only")
        default:
            writer.sendError(stream: frame.stream, .badRequest, "frame type \(frame.type) is not supported by this agent yet")
        }
    }

    private func killAll() {
        for s in streams.withLock({ Array($0.values) }) { s.kill() }
    }
}

/// The agent's own version, reported in hello.
public let loharVersion = "0.1.0"

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
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
