import BhattiSystem
import BhattiWire
import Foundation
import Synchronization

extension AgentConnection {
    /// Connects to 127.0.0.1:`port` inside the guest and relays bytes both ways over this channel.
    ///
    /// - Throws: `AgentError.remote` (not_found "connection refused on port N", bad_request for a port
    ///   outside 1...65535), `.disconnected`, or `CancellationError`.
    public func forward(port: Int) async throws -> AgentForward {
        try await openAccepted(.forward, WireJSON.encode(ForwardRequest(port: port))) { id, frames in
            AgentForward(connection: self, id: id, frames: frames)
        }
    }
}

/// One relayed TCP connection to a port inside the guest. Call `close()` when done with it (it is
/// also closed when released).
public final class AgentForward: Sendable {
    /// What the guest's socket sends, in order; finishes when it closes its side (the guest's `end`),
    /// throws `AgentError.remote` when the relay fails. One consumer at a time.
    public let incoming: AsyncThrowingStream<[UInt8], any Error>
    private let connection: AgentConnection
    private let id: UInt32
    private let closed = Atomic<Bool>(false)

    init(connection: AgentConnection, id: UInt32, frames: AsyncThrowingStream<Frame, any Error>.Iterator) {
        self.connection = connection
        self.id = id
        let cursor = StreamCursor(frames)
        // Pulled, not pushed: credit goes back as the consumer takes each chunk, so a slow consumer
        // holds back the guest's reader (and, through TCP, the program behind the port).
        incoming = AsyncThrowingStream(unfolding: { [connection] in
            while let frame = try await cursor.next() {
                switch frame.type {
                case .data:
                    guard !frame.payload.isEmpty else { continue }
                    connection.consumed(id, frame.payload.count)
                    return frame.payload
                case .end:
                    return nil
                case .error:
                    // The relay is over: wake a sender that may be waiting for credit that will not come.
                    connection.closeStream(id)
                    throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default:
                    continue
                }
            }
            return nil
        })
    }

    deinit { close() }

    /// Sends `bytes` to the guest's socket, waiting for the guest's credit.
    public func send(_ bytes: [UInt8]) async throws {
        try await connection.sendMetered(id, .data, bytes)
    }

    /// Half-closes: the program behind the port reads end of file; `incoming` keeps flowing.
    public func finishSending() throws {
        try connection.send(Frame(stream: id, type: .end))
    }

    /// Tears the relay down: the guest closes its socket, and a pending `send` or `incoming` ends.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? connection.send(Frame(stream: id, type: .kill))
        connection.closeStream(id)
    }
}
