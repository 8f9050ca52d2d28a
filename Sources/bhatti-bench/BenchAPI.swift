import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation

/// The daemon's API over its unix socket: one connection per request, each on its own thread (the
/// client blocks), so concurrent calls are really concurrent.
struct BenchAPI: Sendable {
    let client: HTTPClient
    let headers: HTTPHeaders

    init(_ daemon: Daemon) {
        client = HTTPClient(endpoint: .unix(path: daemon.socketPath))
        headers = ["Authorization": "Bearer \(daemon.adminKey)", "Content-Type": "application/json"]
    }

    func call(_ method: String, _ path: String, _ body: String = "") async throws -> HTTPClientResponse {
        let (client, headers) = (client, headers)
        return try await Blocking.run { try client.send(method: method, path: path, headers: headers, body: Array(body.utf8)) }
    }

    /// `call` timed on the client's own thread: what a caller of the API waits, without the bench's
    /// hand-off to that thread and back (two thread wake-ups that are the harness's, not the API's).
    func timed(_ method: String, _ path: String, _ body: String = "", expect status: Int = 200) async throws -> Duration {
        try await timedCall(method, path, body, expect: status).time
    }

    /// `timed`, with the answer.
    func timedCall(_ method: String, _ path: String, _ body: String = "", expect status: Int = 200) async throws -> (
        time: Duration, response: HTTPClientResponse
    ) {
        let (client, headers) = (client, headers)
        return try await timedOnClientThread("\(method) \(path)", expect: status) {
            try client.send(method: method, path: path, headers: headers, body: Array(body.utf8))
        }
    }

    /// `call`, but an answer other than `status` throws with the body.
    @discardableResult
    func expect(_ status: Int, _ method: String, _ path: String, _ body: String = "") async throws -> HTTPClientResponse {
        let r = try await call(method, path, body)
        guard r.status == status else { throw BenchError("\(method) \(path): \(r.status) \(r.text)") }
        return r
    }

    /// `exec true` through the API (which wakes a warm or cold sandbox first).
    func execTrue(_ name: String) async throws {
        try await expect(200, "POST", "/v1/sandboxes/\(name)/exec", "{\"cmd\":[\"true\"]}")
    }
}

/// Runs one blocking client call on a thread of its own and times it there: what a caller of the API
/// waits, without the bench's hand-off to that thread and back. An answer other than `status` throws.
func timedOnClientThread(
    _ what: String, expect status: Int = 200, _ send: @escaping @Sendable () throws -> HTTPClientResponse
) async throws -> (time: Duration, response: HTTPClientResponse) {
    try await Blocking.run {
        let start = ContinuousClock.now
        let r = try send()
        let elapsed = ContinuousClock.now - start
        guard r.status == status else { throw BenchError("\(what): \(r.status) \(r.text)") }
        return (elapsed, r)
    }
}
