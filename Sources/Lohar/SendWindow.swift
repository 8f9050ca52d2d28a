import BhattiWire
import Dispatch
import Synchronization

/// The guest's side of a stream's flow control: how many more bytes it may send to the host.
///
/// Producers (output pumps, file readers, forward relays) block in `take` until the host grants
/// credit, so a slow consumer holds back only its own stream.
final class SendWindow: Sendable {
    private struct State {
        var available: Int
        var closed = false
        var waiters = 0
    }
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)

    init(initial: Int = Credit.initialWindow) { state = Mutex(State(available: initial)) }

    /// Waits for credit; returns how many bytes (1...max) may be sent now, or 0 once closed.
    func take(upTo max: Int) -> Int {
        while true {
            let got: Int? = state.withLock { s in
                if s.closed { return 0 }
                if s.available > 0 {
                    let n = min(max, s.available)
                    s.available -= n
                    return n
                }
                s.waiters += 1
                return nil
            }
            if let got { return got }
            wake.wait()
        }
    }

    /// Adds credit (a `credit` frame arrived, or a producer hands back what it did not use).
    func grant(_ bytes: Int) {
        let waiters = state.withLock { s in
            s.available += bytes
            defer { s.waiters = 0 }
            return s.waiters
        }
        for _ in 0..<waiters { wake.signal() }
    }

    /// Wakes every producer with 0: the stream or the connection is gone.
    func close() {
        let waiters = state.withLock { s in
            s.closed = true
            defer { s.waiters = 0 }
            return s.waiters
        }
        for _ in 0..<waiters { wake.signal() }
    }
}

/// The guest's side of the other direction: counts what it consumed from the host and grants
/// credit back in batches.
final class ReceiveCredit: Sendable {
    private let pending = Mutex(0)
    private let stream: UInt32
    private let writer: FrameWriter

    init(stream: UInt32, writer: FrameWriter) {
        self.stream = stream
        self.writer = writer
    }

    /// Records `bytes` as consumed (written to the process, the file, the socket).
    func consumed(_ bytes: Int) {
        let grant = pending.withLock { p -> Int in
            p += bytes
            guard p >= Credit.grantThreshold else { return 0 }
            defer { p = 0 }
            return p
        }
        if grant > 0 { writer.send(Frame(stream: stream, type: .credit, payload: Credit.payload(grant))) }
    }
}
