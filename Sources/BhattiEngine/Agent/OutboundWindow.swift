import BhattiWire
import Synchronization

/// The host's side of a stream's flow control for what it sends (stdin, file data, forwarded bytes):
/// `take` suspends until the guest grants credit.
final class OutboundWindow: Sendable {
    private struct State {
        var available = Credit.initialWindow
        var closed = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }
    private let state = Mutex(State())

    /// Waits for credit; returns how many bytes (1...max) may go now. Throws `.disconnected` once closed.
    func take(upTo max: Int) async throws -> Int {
        while true {
            let got: Int? = try state.withLock { s in
                if s.closed { throw AgentError.disconnected }
                guard s.available > 0 else { return nil }
                let n = min(max, s.available)
                s.available -= n
                return n
            }
            if let got { return got }
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if s.closed || s.available > 0 { return true }
                    s.waiters.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    func grant(_ bytes: Int) {
        let waiters = state.withLock { s in
            s.available += bytes
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func close() {
        let waiters = state.withLock { s in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}
