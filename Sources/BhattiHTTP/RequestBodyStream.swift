import Synchronization

/// Why a streamed request body ended before its last byte.
public enum RequestBodyError: Error, Equatable, Sendable {
    /// The client closed or reset the connection mid-body.
    case disconnected
    /// The client sent nothing for the idle limit, or the server shut down.
    case timedOut
    /// The connection is gone for another reason (the handler already answered, the server stopped).
    case abandoned
    /// A chunked body broke its framing or outgrew the route's limit: answer `error.status`.
    case invalid(HTTPParseError)
}

/// A request body handed to the handler while it still arrives (routes chosen by
/// `HTTPLimits.streamsBody`). The connection queues what it reads and stops reading the socket once
/// `capacity` bytes wait, so a slow consumer holds back the client instead of growing memory; taking
/// a chunk out lets reading resume. One consumer at a time.
public final class RequestBodyStream: Sendable {
    private typealias Waiter = CheckedContinuation<[UInt8]?, any Error>

    private struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var queued = 0
        var maxQueued = 0
        var finished = false
        var failure: RequestBodyError?
        var waiter: Waiter?
        /// The producer was told the queue is full; it waits for `onSpace`.
        var paused = false
        var onSpace: (@Sendable () -> Void)?
    }

    /// The declared length of the whole body; nil for a chunked one (`HTTPLimits.streamsChunkedBody`),
    /// whose size is known only at its end.
    public let length: Int?
    /// How many bytes may wait before the socket stops being read.
    public let capacity: Int
    private let state = Mutex(State())

    init(length: Int?, capacity: Int) {
        self.length = length
        self.capacity = capacity
    }

    /// The next chunk, or nil after the last byte.
    ///
    /// - Throws: `RequestBodyError` when the body cannot be completed, or `CancellationError`.
    public func next() async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                typealias Outcome = (Result<[UInt8]?, any Error>?, resume: (@Sendable () -> Void)?)
                let (result, resume) = state.withLock { state -> Outcome in
                    if let chunk = Self.take(&state) { return (.success(chunk), Self.spaceCallback(&state, capacity)) }
                    if let failure = state.failure { return (.failure(failure), nil) }
                    if state.finished { return (.success(nil), nil) }
                    if Task.isCancelled { return (.failure(CancellationError()), nil) }
                    state.waiter = continuation
                    return (nil, nil)
                }
                resume?()
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The most bytes that were ever queued at once (back-pressure made observable).
    public var maxQueuedBytes: Int { state.withLock { $0.maxQueued } }

    // MARK: The connection's side (loop thread)

    /// Queues `bytes`; false when the queue is now full and the producer must wait for `onSpace`.
    func push(_ bytes: [UInt8]) -> Bool {
        let (waiter, chunk, room) = state.withLock { state -> (Waiter?, [UInt8], Bool) in
            guard state.failure == nil, !state.finished else { return (nil, [], true) }
            if let waiter = state.waiter {
                // Someone waits already: hand the bytes over without queueing them.
                state.waiter = nil
                return (waiter, bytes, true)
            }
            state.chunks.append(bytes)
            state.queued += bytes.count
            state.maxQueued = max(state.maxQueued, state.queued)
            state.paused = state.queued >= capacity
            return (nil, [], !state.paused)
        }
        waiter?.resume(returning: chunk)
        return room
    }

    /// Sets what runs (on the consumer's task) when a paused queue has room again.
    func onSpace(_ callback: @escaping @Sendable () -> Void) {
        state.withLock { $0.onSpace = callback }
    }

    /// The last byte was queued.
    func finish() { end { $0.finished = true } }

    /// The body will not complete; queued chunks are dropped and `next()` throws `error`. Idempotent.
    func fail(_ error: RequestBodyError) {
        end { state in
            guard !state.finished || !state.chunks.isEmpty else { return }
            state.failure = state.failure ?? error
            state.chunks = []
            state.queued = 0
        }
    }

    private func end(_ change: (inout State) -> Void) {
        let waiter = state.withLock { state -> Waiter? in
            change(&state)
            state.onSpace = nil
            guard state.finished || state.failure != nil else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        guard let waiter else { return }
        let failure = state.withLock { $0.failure }
        if let failure { waiter.resume(throwing: failure) } else { waiter.resume(returning: nil) }
    }

    private static func take(_ state: inout State) -> [UInt8]? {
        guard state.head < state.chunks.count else { return nil }
        let chunk = state.chunks[state.head]
        state.chunks[state.head] = []
        state.head += 1
        state.queued -= chunk.count
        if state.head == state.chunks.count {
            state.chunks.removeAll(keepingCapacity: true)
            state.head = 0
        }
        return chunk
    }

    /// The callback to run when taking a chunk freed room in a paused queue.
    private static func spaceCallback(_ state: inout State, _ capacity: Int) -> (@Sendable () -> Void)? {
        guard state.paused, state.queued < capacity else { return nil }
        state.paused = false
        return state.onSpace
    }
}
