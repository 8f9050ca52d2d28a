import BhattiSystem
public import BhattiWire
import Synchronization

extension AgentConnection {
    /// Watches a directory in the guest (and, with `recursive`, every directory below it); returns
    /// once the guest is watching, so a change made after this returns is reported.
    ///
    /// - Throws: `AgentError.remote` (not_found for a missing path, bad_request for one that is not a
    ///   directory, resource_exhausted past the guest's inotify limits), `.unsupported` for an agent
    ///   without `watch`, `.disconnected`, or `CancellationError`.
    public func watch(_ request: WatchRequest) async throws -> AgentWatch {
        try require(AgentCapability.watch, for: "watch directories")
        return try await openAccepted(.watch, WireJSON.encode(request)) { id, frames in
            AgentWatch(connection: self, id: id, frames: frames)
        }
    }
}

/// One directory watch in the guest. Call `close()` when done with it (it is also closed when
/// released): the guest then removes its inotify watches.
public final class AgentWatch: Sendable {
    /// The changes, in order. Finishes when the watched directory is deleted or `close()` is called;
    /// throws `AgentError.remote` when the guest ends the watch (resource_exhausted: events were lost),
    /// `.disconnected` when the channel drops, `CancellationError` when the consuming task is
    /// cancelled (which closes the watch). One consumer at a time.
    public let events: AsyncThrowingStream<WatchEvent, any Error>
    private let connection: AgentConnection
    private let id: UInt32
    private let closed = Atomic<Bool>(false)

    /// The rest of the batch the last frame carried, handed out one event per call.
    private final class Batch: @unchecked Sendable {
        // Touched only by the stream's single consumer (see `StreamCursor`).
        var events: [WatchEvent] = []
        var next = 0
    }

    init(connection: AgentConnection, id: UInt32, frames: AsyncThrowingStream<Frame, any Error>.Iterator) {
        self.connection = connection
        self.id = id
        let cursor = StreamCursor(frames)
        let batch = Batch()
        // Pulled, not pushed: a frame is credited when its events are taken, so a consumer that stops
        // reading holds the guest back (its events wait in the guest kernel's queue).
        events = AsyncThrowingStream(unfolding: { [connection] in
            if batch.next < batch.events.count {
                defer { batch.next += 1 }
                return batch.events[batch.next]
            }
            while true {
                guard let frame = try await cursor.next() else {
                    // Closed here (`close()`), or the consumer was cancelled: that ends the frames too.
                    if Task.isCancelled {
                        AgentWatch.stop(connection, id)
                        throw CancellationError()
                    }
                    return nil
                }
                switch frame.type {
                case .data:
                    let decoded: [WatchEvent]
                    do throws(WireError) { decoded = try WireJSON.decode([WatchEvent].self, from: frame) } catch {
                        // Nothing after a batch we cannot read can be trusted to be in order: stop.
                        AgentWatch.stop(connection, id)
                        throw AgentError.protocolError(error)
                    }
                    connection.consumed(id, frame.payload.count)
                    guard let first = decoded.first else { continue }
                    batch.events = decoded
                    batch.next = 1
                    return first
                case .end:
                    connection.closeStream(id)
                    return nil
                case .error:
                    connection.closeStream(id)
                    throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default:
                    continue
                }
            }
        })
    }

    deinit { close() }

    /// Ends the watch: the guest removes its inotify watches, and `events` finishes.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.stop(connection, id)
    }

    private static func stop(_ connection: AgentConnection, _ id: UInt32) {
        try? connection.send(Frame(stream: id, type: .kill))
        connection.closeStream(id)
    }
}
