import BhattiWire
import Synchronization

/// The host's side of a stream's flow control for what it sends (stdin, file data, forwarded bytes):
/// `take` suspends until the guest grants credit, or the stream closes, or the waiting task is cancelled.
final class OutboundWindow: Sendable {
    private struct State {
        var available = Credit.initialWindow
        var closed = false
        /// What can go with the credit there is still goes; a take that would wait throws instead.
        var waitsNoMore = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }
    private let state = Mutex(State())

    /// Waits for credit; returns how many bytes (1...max) may go now. Throws `.disconnected` once closed,
    /// `CancellationError` when the task is cancelled (a client gone while the guest is not reading).
    func take(upTo max: Int) async throws -> Int {
        while true {
            try Task.checkCancellation()
            let got: Int? = try state.withLock { s in
                if s.closed { throw AgentError.disconnected }
                guard s.available > 0 else {
                    if s.waitsNoMore { throw CancellationError() }
                    return nil
                }
                let n = min(max, s.available)
                s.available -= n
                return n
            }
            if let got { return got }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    let resumeNow: Bool = state.withLock { s in
                        if s.closed || s.available > 0 || s.waitsNoMore || Task.isCancelled { return true }
                        s.waiters.append(c)
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                // Every waiter looks again; the cancelled one throws at the top of the loop.
                wakeAll()
            }
        }
    }

    func grant(_ bytes: Int) {
        state.withLock { $0.available += bytes }
        wakeAll()
    }

    private func wakeAll() {
        let waiters = state.withLock { s in
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    /// From now on a take that would wait for credit throws (its sender is gone), while one that finds
    /// credit still takes it: what the guest will accept is delivered, nothing waits for what it won't.
    func stopWaiting() {
        state.withLock { $0.waitsNoMore = true }
        wakeAll()
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
