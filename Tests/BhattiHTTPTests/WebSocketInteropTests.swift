import Foundation
import Synchronization
import Testing

@testable import BhattiHTTP

/// Where the interop tests keep Python's `websockets` (outside the repository; reused across runs).
private let venv = "/tmp/bhatti-ws-venv"
private let venvReady = Mutex(false)

private struct InteropFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a program to completion; returns its exit status and its stdout and stderr together.
private func run(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The venv's python with `websockets`, installed on first use. `flock` serialises concurrent test
/// runs on one machine. Without PyPI the install fails and so does the test: interop is not optional.
private func pythonWithWebsockets() async throws -> String {
    try await offPool {
        try venvReady.withLock { ready in
            if ready { return }
            let (status, output) = try run("/bin/sh", [FileManager.default.currentDirectoryPath + "/scripts/ws-venv.sh"])
            guard status == 0 else { throw InteropFailure(description: "installing websockets failed (\(status)): \(output)") }
            ready = true
        }
        return "\(venv)/bin/python"
    }
}

/// Python's client against our server: text, 1 MiB binary, ping, and a close with code 4000.
private let pythonClient = """
    import asyncio, sys
    from websockets.asyncio.client import connect

    async def main(url):
        async with connect(url, max_size=None, ping_interval=None, open_timeout=30) as ws:
            await ws.send("hello ✓")
            print("text", await ws.recv())
            data = bytes(range(256)) * 4096
            await ws.send(data)
            reply = await ws.recv()
            print("binary", len(reply), reply == data)
            pong = await ws.ping(b"py")
            await asyncio.wait_for(pong, 30)
            print("pong")
            await ws.close(code=4000, reason="py bye")
            print("closed", ws.close_code)

    asyncio.run(main(sys.argv[1]))
    """

/// Python's echo server: prints its port, closes with 4003 on "close-me", exits when stdin closes.
private let pythonServer = """
    import asyncio, sys
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for message in ws:
            if message == "close-me":
                await ws.close(code=4003, reason="server bye")
                return
            await ws.send(message)

    async def main():
        async with serve(echo, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
    """

@Suite(.timeLimit(.minutes(10))) struct WebSocketInteropTests {
    @Test func pythonClientAgainstOurServer() async throws {
        let python = try await pythonWithWebsockets()
        let log = HandlerLog()
        let (server, endpoint) = try tcpServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        guard case .tcp(let host, let port) = endpoint else { return }
        let (status, output) = try await offPool { try run(python, ["-c", pythonClient, "ws://\(host):\(port)/echo"]) }
        #expect(status == 0, "\(output)")
        #expect(output == "text hello ✓\nbinary 1048576 True\npong\nclosed 4000\n")
        #expect(try await offPool { log.first() } == .some(.closed(WebSocketClose(code: 4000, reason: "py bye"))))
    }

    @Test func ourClientAgainstPythonServer() async throws {
        let python = try await pythonWithWebsockets()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", pythonServer]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        defer {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        let reader = stdout.fileHandleForReading
        let portLine = try await offPool { () -> String in
            var line = Data()
            while !line.contains(0x0A) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let port = try #require(Int(portLine), "the Python server printed no port")
        let endpoint = HTTPEndpoint.tcp(host: "127.0.0.1", port: port)

        let socket = try await connectWebSocket(endpoint, path: "/")
        try socket.send(text: "hello ✓")
        #expect(try await nextMessage(socket) == .text("hello ✓"))
        let big = pattern(1 << 20)
        try await offPool { try socket.send(binary: big) }
        #expect(try await nextMessage(socket) == .binary(big))
        try socket.ping(bytes("swift"))
        try socket.send(text: "close-me")
        let (messages, error) = await drain(socket)
        #expect(messages.isEmpty)
        #expect(error == .closed(WebSocketClose(code: 4003, reason: "server bye")))

        let second = try await connectWebSocket(endpoint, path: "/")
        try second.send(binary: [1, 2, 3])
        #expect(try await nextMessage(second) == .binary([1, 2, 3]))
        second.close()
        let (rest, secondError) = await drain(second)
        #expect(rest.isEmpty && secondError == nil)
        #expect(second.closeStatus == WebSocketClose(code: 1000))
    }
}
