import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Glibc
import Testing

@Suite("Port forwarding through the real agent handlers")
struct ForwardTests {
    @Test("a small exchange with an echo server")
    func echo() async throws {
        let h = try await AgentHarness.start()
        let server = try TestServer(handler: TestServer.echo)
        defer { server.stop() }
        let forward = try await h.connection.forward(port: server.port)
        defer { forward.close() }
        try await forward.send(Array("hello\n".utf8))
        try forward.finishSending()
        #expect(try await collect(forward.incoming) == Array("hello\n".utf8))
    }

    @Test("10 MiB each way arrives intact")
    func largeBothWays() async throws {
        let h = try await AgentHarness.start()
        let server = try TestServer(handler: TestServer.echo)
        defer { server.stop() }
        let forward = try await h.connection.forward(port: server.port)
        defer { forward.close() }
        let bytes = TransferSupport.randomTenMiB
        // Sending and receiving at once: the echo cannot take more until its output is read.
        let sender = Task {
            try await forward.send(bytes)
            try forward.finishSending()
        }
        let back = try await collect(forward.incoming)
        try await sender.value
        #expect(back.count == bytes.count)
        #expect(TransferSupport.same(back, bytes))
    }

    @Test("half-close: the server reads to EOF, then answers, then the answer ends the stream")
    func halfClose() async throws {
        let h = try await AgentHarness.start()
        // Reads everything, then reports how many bytes it got.
        let server = try TestServer { socket in
            var total = 0
            while let chunk = try? socket.read(upTo: 65536), !chunk.isEmpty { total += chunk.count }
            try? socket.writeAll(Array("got \(total)\n".utf8))
        }
        defer { server.stop() }
        let forward = try await h.connection.forward(port: server.port)
        defer { forward.close() }
        try await forward.send([UInt8](repeating: 7, count: 300_000))
        try forward.finishSending()
        #expect(String(decoding: try await collect(forward.incoming), as: UTF8.self) == "got 300000\n")
    }

    @Test("the guest side closing first ends incoming; the host can still finish")
    func guestClosesFirst() async throws {
        let h = try await AgentHarness.start()
        let server = try TestServer { socket in try? socket.writeAll(Array("bye".utf8)) }
        defer { server.stop() }
        let forward = try await h.connection.forward(port: server.port)
        defer { forward.close() }
        #expect(try await collect(forward.incoming) == Array("bye".utf8))
        try forward.finishSending()
        #expect(try await h.run(["true"]).0.code == 0)
    }

    @Test("close tears the guest's socket down")
    func closeTearsDown() async throws {
        let h = try await AgentHarness.start()
        let (received, sawEOF) = (Locked(0), Locked(false))
        let server = try TestServer { socket in
            // A read that times out is no end of file: only a real one counts.
            socket.setReceiveTimeout(milliseconds: 60_000)
            while let chunk = try? socket.read(upTo: 1024) {
                if chunk.isEmpty {
                    sawEOF.with { $0 = true }
                    return
                }
                received.with { $0 += chunk.count }
            }
        }
        defer { server.stop() }
        let forward = try await h.connection.forward(port: server.port)
        try await forward.send([1, 2, 3])
        #expect(await TransferSupport.eventuallyTrue { received.with { $0 } == 3 })
        forward.close()
        #expect(await TransferSupport.eventuallyTrue { sawEOF.with { $0 } })
    }

    @Test("a closed port is a clear error; a port out of range is a bad request")
    func refused() async throws {
        let h = try await AgentHarness.start()
        // A port that was just free: listen, note it, close.
        let probe = try Socket.listen(host: "127.0.0.1", port: 0)
        let port = try Socket.localPort(of: probe)
        probe.close()
        await #expect {
            _ = try await h.connection.forward(port: port)
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .notFound && m.message == "connection refused on port \(port)"
        }
        for bad in [0, -1, 65536] {
            #expect(await TransferSupport.remoteCode { _ = try await h.connection.forward(port: bad) } == .badRequest)
        }
        #expect(try await h.run(["true"]).0.code == 0)
    }

    @Test("several forwards at once keep their bytes apart")
    func concurrent() async throws {
        let h = try await AgentHarness.start()
        let server = try TestServer(handler: TestServer.echo)
        defer { server.stop() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let forward = try await h.connection.forward(port: server.port)
                    defer { forward.close() }
                    let bytes = [UInt8](repeating: UInt8(i), count: 100_000 + i)
                    try await forward.send(bytes)
                    try forward.finishSending()
                    return TransferSupport.same(try await collect(forward.incoming), bytes)
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }

    private func collect(_ stream: AsyncThrowingStream<[UInt8], any Error>) async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await chunk in stream { all += chunk }
        return all
    }
}

/// A TCP server on 127.0.0.1 (a free port) that runs `handler` on its own thread per connection,
/// then closes the connection.
private final class TestServer: Sendable {
    let port: Int
    private let listener: FileDescriptor

    init(handler: @escaping @Sendable (FileDescriptor) -> Void) throws {
        listener = try Socket.listen(host: "127.0.0.1", port: 0)
        port = try Socket.localPort(of: listener)
        startThread(name: "test-server") { [listener] in
            while let connection = try? Socket.accept(listener) {
                startThread(name: "test-conn") {
                    handler(connection)
                    connection.close()
                }
            }
            // Closed here, by the only thread that uses it: closed from `stop`, its number could be
            // reused by another test's listener before this loop calls accept again.
            listener.close()
        }
    }

    /// Echoes until EOF, then half-closes so the client sees EOF too.
    static let echo: @Sendable (FileDescriptor) -> Void = { socket in
        while let chunk = try? socket.read(upTo: 65536), !chunk.isEmpty {
            if (try? socket.writeAll(chunk)) == nil { return }
        }
        socket.shutdownWrite()
    }

    /// Stops accepting: shutdown makes the blocked (and any later) accept fail, and the loop ends.
    func stop() { _ = shutdown(listener.rawValue, Int32(SHUT_RDWR)) }
}
