import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Testing

/// SPEC: a client that goes away kills the command, whichever way it asked for the output.
@Suite("A client that goes away", .serialized, .timeLimit(.minutes(10)))
struct ClientGoneTests {
    @Test("closing the connection mid-exec kills the command in the guest: buffered or streamed, unix socket or TCP")
    func killsTheCommand() async throws {
        try await withDaemon { d in
            let sandbox = try await d.create("gone")
            let agent = try await d.daemon.engine.agent(for: sandbox.id)
            let port = try #require(d.daemon.tcpPort)
            // Over TCP a closed client shows only as end of input (a FIN), over the unix socket as a hang-up.
            let ndjson = "application/x-ndjson"
            for (tcp, accept) in [(false, nil), (false, ndjson), (true, nil), (true, ndjson)] {
                let kind = (accept ?? "buffered") + (tcp ? " over TCP" : " over the unix socket")
                let socket = tcp ? try Socket.connect(host: "127.0.0.1", port: port) : try Socket.connect(unixPath: d.daemon.socketPath)
                let body = #"{"cmd":["sleep","60"]}"#
                var head =
                    "POST /v1/sandboxes/gone/exec HTTP/1.1\r\nHost: bhatti\r\n"
                    + "Authorization: Bearer \(d.daemon.adminKey)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n"
                if let accept { head += "Accept: \(accept)\r\n" }
                try socket.writeAll(Array((head + "\r\n" + body).utf8))
                #expect(try await Self.runningExecs(agent, become: 1), "never started (\(kind))")
                socket.close()
                #expect(try await Self.runningExecs(agent, become: 0), "still running after the client left (\(kind))")
            }
            #expect(try await d.exec("gone", ["echo", "still serving"]).stdout == "still serving\n")
        }
    }

    /// Polls the guest agent's count of running execs until it is `count`; whether it got there.
    static func runningExecs(_ agent: AgentConnection, become count: Int) async throws -> Bool {
        try await eventually(interval: .milliseconds(50)) { try await agent.activity().runningExecs == count }
    }
}
