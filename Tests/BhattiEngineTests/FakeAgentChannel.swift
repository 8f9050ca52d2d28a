import BhattiSystem
import BhattiWire

@testable import BhattiEngine

/// A channel to a fake agent at the wire's seam: its hello reply waits in the socket for the handshake.
enum FakeAgentChannel {
    /// The host's connection after the handshake, and the fake agent's end of the socket.
    static func open(agentVersion: String = "fake", capabilities: [String]?) async throws -> (AgentConnection, FileDescriptor) {
        let (host, guest) = try Pipe.socketPair()
        let reply = HelloReply(
            version: wireProtocolVersion, agentVersion: agentVersion, bootID: "b", uptimeMilliseconds: 1, capabilities: capabilities)
        try guest.writeAll(Frame(stream: 0, type: .helloReply, payload: reply.fastJSON).encoded())
        return (try await AgentConnection.handshake(fd: host, timeout: .seconds(300)), guest)
    }

    /// Every frame the host sent to `guest`, up to its close.
    static func sent(to guest: FileDescriptor) async throws -> [Frame] {
        try await Blocking.run { () throws -> [Frame] in
            var decoder = FrameDecoder()
            var frames: [Frame] = []
            while true {
                let bytes = try guest.read(upTo: 64 * 1024)
                if bytes.isEmpty { return frames }
                decoder.append(bytes)
                while let frame = try decoder.next() { frames.append(frame) }
            }
        }
    }
}
