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
