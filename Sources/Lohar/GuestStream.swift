import BhattiWire

/// One open stream on a host connection, whatever it carries (exec, session attachment, file
/// transfer, forward). The connection's reader routes the stream's later frames to it.
protocol GuestStream: AnyObject, Sendable {
    /// Begins producing (spawn the process, open the file…). Called once, after registration; failures
    /// end the stream through `StreamContext.fail`.
    func start()
    /// A frame from the host for this stream: stdin, kill, data, end, resize, detach, error…
    /// (`credit` is handled by the connection and goes to `window`).
    func receive(_ frame: Frame)
    /// The host connection dropped: stop producing, and end what only that host could have used.
    func connectionClosed()
    /// Credit for what this stream sends to the host.
    var window: SendWindow { get }
}

/// What a stream needs from the connection that carries it.
struct StreamContext: Sendable {
    let id: UInt32
    let writer: FrameWriter
    let window: SendWindow
    let received: ReceiveCredit
    /// Removes the stream from the connection (call once, when the stream has sent its last frame).
    let finished: @Sendable () -> Void
    /// When the opening frame came off the channel (monotonic µs), for the guest's share of timings.
    var openedAt = monotonicMicroseconds()

    func send(_ type: FrameType, _ payload: [UInt8] = []) {
        writer.send(Frame(stream: id, type: type, payload: payload))
    }

    func sendJSON<T: Encodable>(_ type: FrameType, _ value: T) {
        writer.send(Frame(stream: id, type: type, payload: WireJSON.encode(value)))
    }

    /// Ends the stream with an error frame.
    func fail(_ code: WireErrorCode, _ message: String) {
        writer.sendError(stream: id, code, message)
        finished()
    }

    /// Sends `bytes` as metered frames of `type`, waiting for credit; false if the stream closed first.
    func sendMetered(_ type: FrameType, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = window.take(upTo: min(bytes.count - offset, 64 * 1024))
            if n == 0 { return false }
            if !writer.send(Frame(stream: id, type: type, payload: Array(bytes[offset..<offset + n]))) { return false }
            offset += n
        }
        return true
    }
}
