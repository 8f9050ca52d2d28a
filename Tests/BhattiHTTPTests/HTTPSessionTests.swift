import BhattiSystem
import Foundation
import Testing

@testable import BhattiHTTP

/// The keep-alive client: one connection for many requests, and a connection the server dropped while
/// idle replaced without the caller noticing.
@Suite("HTTP session (keep-alive client)")
struct HTTPSessionTests {
    @Test("100 requests reuse one connection; bodies and statuses come through")
    func reuse() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let session = HTTPSession(endpoint: endpoint)
        for i in 0..<100 {
            let r = try await offPool { try session.send(method: "POST", path: "/n", body: bytes("\(i)")) }
            #expect(r.status == 200)
            #expect(string(r.body) == "POST /n  \(i)")
        }
        #expect(server.connectionCount == 1)
    }

    @Test("an idle connection the server closed is replaced once, transparently")
    func staleConnection() async throws {
        let (server, endpoint) = try unixServer(limits: HTTPLimits(idleTimeoutMilliseconds: 100))
        defer { server.shutdown() }
        let session = HTTPSession(endpoint: endpoint)
        #expect(try await offPool { try session.send(method: "GET", path: "/a") }.status == 200)
        // The server's idle timer closes the kept-alive connection; the session does not know yet.
        #expect(try await offPool { eventually { server.connectionCount == 0 } })
        let again = try await offPool { try session.send(method: "GET", path: "/b") }
        #expect(string(again.body).hasPrefix("GET /b"))
    }
}
