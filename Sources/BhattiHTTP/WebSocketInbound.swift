import Dispatch
import Synchronization

/// The peer's messages that arrived but the consumer has not taken yet, counted so the reader stops
/// reading the socket while more than `limit` bytes wait: the peer's sends then back up in the kernel's
/// buffers instead of this process's memory. Also tells waiters when the connection is over.
final class WebSocketInbound: Sendable {
    private struct State {
        var queuedBytes = 0
        /// The consumer stopped iterating (cancelled): nothing queued will be taken, so never pause.
        var consumerGone = false
        /// The reader waits for room: only then does a taken message signal (one signal per wait, not
        /// one per message, which a long session would pile up into spins of the next wait).
        var readerWaiting = false
        var ended = false
        var endWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Queued bytes past which the reader pauses.
    let limit: Int
    private let state = Mutex(State())
    /// Signalled when the consumer takes a message or leaves; the paused reader then looks again.
    private let room = DispatchSemaphore(value: 0)

    init(limit: Int) { self.limit = limit }

    /// Whether the reader must not hand over more messages now.
    var isFull: Bool { state.withLock { !$0.consumerGone && $0.queuedBytes >= limit } }

    /// Bytes queued for the consumer, for tests and diagnostics.
    var queuedBytes: Int { state.withLock { $0.queuedBytes } }

    /// The reader queued a message of `bytes`.
    func queued(_ bytes: Int) { state.withLock { $0.queuedBytes += bytes } }

    /// The consumer took a message of `bytes`.
    func taken(_ bytes: Int) {
        let wake = state.withLock { s -> Bool in
            s.queuedBytes -= bytes
            defer { s.readerWaiting = false }
            return s.readerWaiting
        }
        if wake { room.signal() }
    }

    /// The consumer will take no more.
    func consumerLeft() {
        state.withLock {
            $0.consumerGone = true
            $0.queuedBytes = 0
        }
        room.signal()
    }

    /// Blocks the reader until the consumer took something (or left), or `deadline` passes; at once
    /// when there is room already.
    func waitForRoom(until deadline: DispatchTime) {
        let wait = state.withLock { s -> Bool in
            guard !s.consumerGone, s.queuedBytes >= limit else { return false }
            s.readerWaiting = true
            return true
        }
        guard wait else { return }
        _ = room.wait(timeout: deadline)
        state.withLock { $0.readerWaiting = false }
    }

    /// The connection is over: wakes `waitUntilEnded`. Idempotent.
    func connectionEnded() {
        state.withLock { $0.ended = true }
        wakeEndWaiters()
    }

    /// Returns once the connection is over (the close handshake finished, the peer went away, or the
    /// connection failed), or when the task is cancelled.
    func waitUntilEnded() async {
        while !Task.isCancelled, !state.withLock({ $0.ended }) {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if s.ended || Task.isCancelled { return true }
                        s.endWaiters.append(c)
                        return false
                    }
                    if now { c.resume() }
                }
            } onCancel: {
                // Every waiter looks again; the cancelled one returns.
                wakeEndWaiters()
            }
        }
    }

    private func wakeEndWaiters() {
        let waiters = state.withLock { s in
            defer { s.endWaiters = [] }
            return s.endWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension WebSocketMessage {
    /// The payload's size, for the inbound queue's count.
    var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }
}
