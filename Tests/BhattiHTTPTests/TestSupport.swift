import BhattiSystem
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import BhattiHTTP

/// Runs blocking work (sockets, semaphores, processes) on its own thread, never on the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Blocking.run(name: "bhatti-http-test", body)
}

/// A fresh unix socket path short enough for sun_path.
func temporarySocketPath() -> String {
    "/tmp/bh-http-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Echoes the request back as text: `METHOD path query body`.
let echoHandler = ClosureHandler { request in
    let query = request.query.keys.sorted().map { "\($0)=\(request.query[$0, default: []].joined(separator: ","))" }
    var response = HTTPResponse.text("\(request.method) \(request.path) \(query.joined(separator: "&")) \(string(request.body))")
    response.headers.add("X-Echo", "yes")
    return response
}

/// A server on a fresh unix socket; the caller shuts it down.
func unixServer(_ handler: any HTTPHandler = echoHandler, limits: HTTPLimits = HTTPLimits()) throws -> (HTTPServer, HTTPEndpoint) {
    let server = HTTPServer(handler: handler, limits: limits)
    let path = temporarySocketPath()
    try server.listen(unixPath: path)
    return (server, .unix(path: path))
}

/// A server on 127.0.0.1 with a kernel-picked port; the caller shuts it down.
func tcpServer(_ handler: any HTTPHandler = echoHandler, limits: HTTPLimits = HTTPLimits()) throws -> (HTTPServer, HTTPEndpoint) {
    let server = HTTPServer(handler: handler, limits: limits)
    let port = try server.listen(host: "127.0.0.1", port: 0)
    return (server, .tcp(host: "127.0.0.1", port: port))
}

/// How long a wait for an event lasts before it counts as a hang. Its only job is to turn a hang into a
/// failure: a pass never waits for it, so it is far beyond any healthy run, however loaded the machine
/// (CI once took over 30 s to answer 50 pipelined requests while the whole suite booted its VMs).
let hangMilliseconds = 300_000

/// A hand-driven client socket for exact bytes on the wire; a read that gets nothing for
/// `hangMilliseconds` fails. Used from one thread only.
final class RawConnection {
    let fd: FileDescriptor
    /// Keeps bytes that arrive after one response (pipelining) for the next `readResponse`.
    private var parser = HTTPResponseParser(requestMethod: "GET")

    init(_ endpoint: HTTPEndpoint) throws {
        switch endpoint {
        case .unix(let path): fd = try Socket.connect(unixPath: path)
        case .tcp(let host, let port): fd = try Socket.connect(host: host, port: port)
        }
        fd.setReceiveTimeout(milliseconds: hangMilliseconds)
    }

    func send(_ text: String) throws { try fd.writeAll(bytes(text)) }

    /// Reads until `done` holds for everything read so far, or end of file; returns what was read.
    func read(until done: ([UInt8]) -> Bool = { _ in false }) throws -> [UInt8] {
        var received: [UInt8] = []
        while !done(received) {
            let chunk = try fd.read(upTo: 65536)
            if chunk.isEmpty { break }
            received += chunk
        }
        return received
    }

    /// Reads one complete response (as the client parser frames it).
    func readResponse() throws -> HTTPClientResponse {
        var response = HTTPClientResponse(status: 0, headers: [], body: [])
        while true {
            while let event = try parser.next() {
                switch event {
                case .head(let status, let headers):
                    response.status = status
                    response.headers = headers
                case .body(let piece): response.body += piece
                case .end: return response
                }
            }
            let chunk = try fd.read(upTo: 65536)
            if chunk.isEmpty {
                if parser.bodyRunsUntilClose { return response }
                throw HTTPClientError.closed
            }
            parser.feed(chunk)
        }
    }

    /// Whether the server closed the connection (end of file within the read timeout).
    func isClosedByPeer() -> Bool {
        guard let rest = try? read() else { return false }
        return rest.isEmpty
    }

    func close() { fd.close() }
}

/// A one-shot flag a blocked thread can wait on with a timeout.
final class Signal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func fire() { semaphore.signal() }

    /// True when fired within `milliseconds` (by default: unless it hangs).
    func wait(milliseconds: Int = hangMilliseconds) -> Bool {
        semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success
    }
}

/// A value shared between a test and the threads it starts.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    var current: Value { value.withLock { $0 } }

    func update(_ body: (inout Value) -> Void) { value.withLock { body(&$0) } }
}

/// A blocking call on its own thread, whose result the test collects later with a timeout.
final class Background<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let done = Signal()

    init(_ body: @escaping @Sendable () -> T) {
        startThread(name: "bhatti-http-test-bg") { [self] in
            let result = body()
            value.withLock { $0 = result }
            done.fire()
        }
    }

    /// The result, or nil if `body` has not returned within `milliseconds` (by default: unless it hangs).
    func result(milliseconds: Int = hangMilliseconds) -> T? {
        guard done.wait(milliseconds: milliseconds) else { return nil }
        return value.withLock { $0 }
    }
}
