import Dispatch
import Synchronization

/// Answers requests; called concurrently from many connections, one request at a time per connection.
public protocol HTTPHandler: Sendable {
    /// Returns the response for `request`; a cancelled task means the server is shutting down.
    func handle(_ request: HTTPRequest) async -> HTTPResponse
}

/// A handler made from a closure (tests, small servers).
public struct ClosureHandler: HTTPHandler {
    private let body: @Sendable (HTTPRequest) async -> HTTPResponse

    /// A handler that calls `body`.
    public init(_ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) { self.body = body }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse { await body(request) }
}

/// Carries one handler result from its task to the connection thread blocked waiting for it.
final class ResponseSlot: Sendable {
    private let value = Mutex<HTTPResponse?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    /// Stores the response (nil: the task was cancelled) and wakes the waiter.
    func fill(_ response: HTTPResponse?) {
        value.withLock { $0 = response }
        ready.signal()
    }

    /// Blocks until `fill`; call only from a dedicated thread.
    func wait() -> HTTPResponse? {
        ready.wait()
        return value.withLock { $0 }
    }
}
