import BhattiSystem
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import BhattiHTTP

/// How server-side handlers' `messages` ended (nil: normally), for a test to wait on.
final class HandlerLog: Sendable {
    private let entries = Mutex<[WebSocketError?]>([])
    private let recorded = DispatchSemaphore(value: 0)

    func record(_ error: WebSocketError?) {
        entries.withLock { $0.append(error) }
        recorded.signal()
    }

    /// The first entry, waiting for it (the deadline only turns a hang into a failure); `.some(nil)` is
    /// a normal end. Blocks: off the pool.
    func first(milliseconds: Int = hangMilliseconds) -> WebSocketError?? {
        guard recorded.wait(timeout: .now() + .milliseconds(milliseconds)) == .success else { return .none }
        return entries.withLock { $0.first }
    }
}

/// Test routes: `/echo` echoes, `/close/CODE` closes with CODE and reason "bye" on the first message,
/// `/bye` sends "bye" and returns; anything else is 404.
func webSocketRoutes(options: WebSocketOptions = WebSocketOptions(), log: HandlerLog? = nil) -> ClosureHandler {
    ClosureHandler { request in
        if request.path == "/echo" {
            return .webSocket(options: options) { socket in
                // Not `log?.record(await ...)`: optional chaining would skip the call without a log.
                let end = await serveEcho(socket, closeWith: nil)
                log?.record(end)
            }
        }
        if request.path.hasPrefix("/close/"), let code = UInt16(request.path.dropFirst(7)) {
            return .webSocket(options: options) { socket in
                let end = await serveEcho(socket, closeWith: WebSocketClose(code: code, reason: "bye"))
                log?.record(end)
            }
        }
        if request.path == "/bye" {
            return .webSocket(options: options) { socket in try? socket.send(text: "bye") }
        }
        return .text(status: 404, "no route")
    }
}

/// Echoes every message (or closes on the first one with `closeWith`) until the stream ends.
private func serveEcho(_ socket: WebSocket, closeWith: WebSocketClose?) async -> WebSocketError? {
    do {
        for try await message in socket.messages {
            if let closeWith {
                socket.close(code: closeWith.code, reason: closeWith.reason)
                continue
            }
            switch message {
            case .text(let text): try socket.send(text: text)
            case .binary(let data): try socket.send(binary: data)
            }
        }
        return nil
    } catch {
        return error as? WebSocketError ?? .protocolViolation("unexpected \(error)")
    }
}

/// Opens a WebSocket with our client, off the cooperative pool.
func connectWebSocket(_ endpoint: HTTPEndpoint, path: String, options: WebSocketOptions = WebSocketOptions()) async throws -> WebSocket {
    try await offPool { try HTTPClient(endpoint: endpoint, timeoutMilliseconds: hangMilliseconds).webSocket(path: path, options: options) }
}

/// Reads messages until the stream ends; returns them and the error it ended with (nil: normally).
func drain(_ socket: WebSocket) async -> ([WebSocketMessage], WebSocketError?) {
    var messages: [WebSocketMessage] = []
    do {
        for try await message in socket.messages { messages.append(message) }
        return (messages, nil)
    } catch {
        return (messages, error as? WebSocketError ?? .protocolViolation("unexpected \(error)"))
    }
}

/// The next message; fails the test at the end of the stream.
func nextMessage(_ socket: WebSocket) async throws -> WebSocketMessage? {
    var iterator = socket.messages.makeAsyncIterator()
    let message = try await iterator.next()
    #expect(message != nil, "the stream ended early")
    return message
}

/// A raw socket that has completed the opening handshake by hand; returns it and any bytes read past the head.
func rawWebSocket(_ endpoint: HTTPEndpoint, path: String) throws -> (RawConnection, [UInt8]) {
    let connection = try RawConnection(endpoint)
    try connection.send(
        "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    let received = try connection.read { string($0).contains("\r\n\r\n") }
    let text = string(received)
    #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
    #expect(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
    let headLength = (text.range(of: "\r\n\r\n").map { text.utf8.distance(from: text.startIndex, to: $0.upperBound) }) ?? received.count
    return (connection, Array(received[headLength...]))
}

/// Parses what a server sent (unmasked frames) into events, stopping at the first error.
func serverEvents(_ wire: [UInt8]) -> [WebSocketEvent] {
    var parser = WebSocketParser(expectsMaskedFrames: false)
    parser.feed(wire)
    var out: [WebSocketEvent] = []
    while let event = try? parser.next() { out.append(event) }
    return out
}

/// A payload of `count` bytes that is unlikely to survive a framing mistake.
func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 8) }
}
