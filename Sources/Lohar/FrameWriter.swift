import BhattiSystem
import BhattiWire
import Synchronization

/// Serialises frame writes onto the channel: each frame goes out whole, so writers on different
/// threads never interleave bytes.
final class FrameWriter: Sendable {
    private let fd: FileDescriptor
    /// True once the connection is over (`shut`): nothing more goes out on it.
    private let lock = Mutex(false)

    init(fd: FileDescriptor) { self.fd = fd }

    /// Sends a frame; false when the host has gone (the caller stops producing).
    @discardableResult
    func send(_ frame: Frame) -> Bool {
        let bytes = frame.encoded()
        return lock.withLock { shut in
            guard !shut else { return false }
            do {
                try fd.writeAllFile(bytes)
                return true
            } catch { return false }
        }
    }

    /// Ends the connection for writers: a stream killed because the host went away (or broke the
    /// protocol) must not report into a channel the next host may already be using.
    func shut() { lock.withLock { $0 = true } }

    /// Sends `bytes` as one or more frames of at most `Frame.maxPayload`.
    @discardableResult
    func send(stream: UInt32, type: FrameType, bytes: [UInt8]) -> Bool {
        if bytes.count <= Frame.maxPayload { return send(Frame(stream: stream, type: type, payload: bytes)) }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + Frame.maxPayload, bytes.count)
            if !send(Frame(stream: stream, type: type, payload: Array(bytes[offset..<end]))) { return false }
            offset = end
        }
        return true
    }

    func sendError(stream: UInt32, _ code: WireErrorCode, _ message: String) {
        send(Frame(stream: stream, type: .error, payload: WireJSON.encode(WireErrorMessage(code: code, message: message))))
    }
}
