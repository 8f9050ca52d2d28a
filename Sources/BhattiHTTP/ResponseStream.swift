import Dispatch
import Synchronization

/// A response body produced over time: producers push chunks without blocking, the thread the
/// connection is lent to pops and writes each as soon as it is queued, and a client that goes away
/// cancels the stream.
///
/// Either hand the server an open stream and push into it from your own task or thread, or give
/// `init(producer:)` a closure: the server runs it in a task when the response starts, cancels that
/// task when the client disconnects, and finishes the stream when it returns.
///
/// `write` never waits, so what it queues is bounded only by its caller. A producer fed from something
/// that can be held back (a guest's metered stream) uses `send` instead: it waits while more than
/// `highWater` bytes are queued, that is while the client is not reading, so the stream holds at most
/// `highWater` plus one chunk queued and as much again being written.
public final class ResponseStream: Sendable {
    /// The default bytes queued past which `send` waits for the client.
    public static let defaultHighWater = 512 << 10

    private struct State {
        var chunks: [[UInt8]] = []
        var pendingBytes = 0
        var finished = false
        var cancelled = false
        var started = false
        var onCancel: [@Sendable () -> Void] = []
        var task: Task<Void, Never>?
        /// Producers in `send` waiting for the connection to take the queue.
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Signalled once per push, finish and cancel; the consumer re-checks the state after every wake-up.
    private let wake = DispatchSemaphore(value: 0)
    private let producer: (@Sendable (ResponseStream) async -> Void)?
    /// Queued bytes past which `send` waits.
    public let highWater: Int

    /// An open stream; push with `write` or `send` and end with `finish`.
    public init(highWater: Int = ResponseStream.defaultHighWater) {
        producer = nil
        self.highWater = highWater
    }

    /// A stream filled by `producer`, which the server runs when the response starts; returning finishes it.
    public init(highWater: Int = ResponseStream.defaultHighWater, producer: @escaping @Sendable (ResponseStream) async -> Void) {
        self.producer = producer
        self.highWater = highWater
    }

    /// Queues `bytes`, then waits while more than `highWater` bytes are queued (the client's socket is
    /// full and the connection cannot take more). False once the client is gone or the stream finished.
    /// A cancelled task stops waiting.
    @discardableResult
    public func send(_ bytes: [UInt8]) async -> Bool {
        guard write(bytes) else { return false }
        while !Task.isCancelled {
            let full = state.withLock { !$0.cancelled && $0.pendingBytes > highWater }
            guard full else { break }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let waiting = state.withLock { s -> Bool in
                        guard !s.cancelled, s.pendingBytes > highWater, !Task.isCancelled else { return false }
                        s.spaceWaiters.append(c)
                        return true
                    }
                    if !waiting { c.resume() }
                }
            } onCancel: {
                resumeSpaceWaiters()
            }
        }
        return !isCancelled
    }

    /// Wakes every producer waiting in `send`; each checks again whether it may go on.
    private func resumeSpaceWaiters() {
        let waiters = state.withLock { s in
            defer { s.spaceWaiters = [] }
            return s.spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Queues `bytes` for the client; false once the client is gone or the stream finished (stop producing).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.cancelled, !state.finished else { return false }
            // An empty chunk would end a chunked body early; it carries nothing, so it is dropped.
            if !bytes.isEmpty {
                state.chunks.append(bytes)
                state.pendingBytes += bytes.count
            }
            return true
        }
        if accepted && !bytes.isEmpty { wake.signal() }
        return accepted
    }

    /// Queues the UTF-8 bytes of `text`.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Array(text.utf8)) }

    /// Ends the body after the queued chunks are sent. Idempotent.
    public func finish() {
        let changed = state.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.finished = true
            return true
        }
        if changed { wake.signal() }
    }

    /// Whether the client went away (or the server shut down) before the body ended.
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Bytes queued but not yet taken by the connection (for producers that want to slow down).
    public var pendingBytes: Int { state.withLock { $0.pendingBytes } }

    /// Producers waiting in `send`, for tests.
    var waitingProducers: Int { state.withLock { $0.spaceWaiters.count } }

    /// Runs `body` once when the stream is cancelled (at once if it already is), e.g. to stop a process
    /// whose output is being streamed even while it prints nothing.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.onCancel.append(body)
            return false
        }
        if runNow { body() }
    }

    /// Marks the client gone: drops queued chunks, runs the cancel handlers, cancels the producer task,
    /// and wakes the consumer. Idempotent.
    func cancel() {
        let (handlers, task) = state.withLock { state -> ([@Sendable () -> Void], Task<Void, Never>?) in
            guard !state.cancelled else { return ([], nil) }
            state.cancelled = true
            state.chunks = []
            state.pendingBytes = 0
            defer { state.onCancel = [] }
            return (state.onCancel, state.task)
        }
        task?.cancel()
        for handler in handlers { handler() }
        resumeSpaceWaiters()
        wake.signal()
    }

    /// Makes `task`, already writing to this stream, its producer: the stream cancels it as it would
    /// the task `start` makes (at once, if the client is already gone). For a handler that must see
    /// the first of its output before it can answer (a file's size, for the headers).
    public func adopt(_ task: Task<Void, Never>) {
        let gone = state.withLock { state -> Bool in
            guard !state.cancelled else { return true }
            state.task = task
            return false
        }
        if gone { task.cancel() }
    }

    /// Starts the producer task, once; the stream finishes when the producer returns.
    func start() {
        guard let producer else { return }
        state.withLock { state in
            guard !state.started, !state.cancelled else { return }
            state.started = true
            // The task is joined through the stream: the lent connection thread waits for `finish`, and
            // `cancel` cancels the task, so it never outlives its response unnoticed.
            state.task = Task { [self] in
                await producer(self)
                finish()
            }
        }
    }

    /// What the consumer gets from `next`.
    enum Item: Equatable {
        /// Every chunk queued since the last call, joined (one write, one chunk frame).
        case data([UInt8])
        /// The same, the producer having finished: the body's last bytes, which go out with its end in
        /// one write (a client reads the end of a short stream at once, not after another packet).
        case last([UInt8])
        /// The producer finished and everything queued was taken.
        case finished
        /// The stream was cancelled.
        case cancelled
        /// Nothing happened within the timeout.
        case idle
    }

    /// Blocks the calling (dedicated) thread until there is data, the end, or a cancellation, or until
    /// `timeoutMilliseconds` pass.
    func next(timeoutMilliseconds: Int) -> Item {
        let deadline = DispatchTime.now() + .milliseconds(timeoutMilliseconds)
        while true {
            let item = state.withLock { state -> Item? in
                if state.cancelled { return .cancelled }
                if !state.chunks.isEmpty {
                    let data = state.chunks.count == 1 ? state.chunks[0] : Array(state.chunks.joined())
                    state.chunks = []
                    state.pendingBytes = 0
                    return state.finished ? .last(data) : .data(data)
                }
                return state.finished ? .finished : nil
            }
            if let item {
                // The queue was taken: producers held back by `send` may queue again.
                switch item {
                case .data, .last: resumeSpaceWaiters()
                default: break
                }
                return item
            }
            if wake.wait(timeout: deadline) == .timedOut { return .idle }
        }
    }
}
