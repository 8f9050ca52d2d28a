/// Answers requests; called concurrently from many connections, one request at a time per connection.
public protocol HTTPHandler: Sendable {
    /// Returns the response for `request`; a cancelled task means the client went away (nobody will
    /// read the answer) or the server is shutting down.
    func handle(_ request: HTTPRequest) async -> HTTPResponse

    /// Where `request`'s handler task runs; `.pool` unless the handler says otherwise.
    func placement(for request: HTTPRequest) -> HandlerPlacement

    /// The answer to a request the server could not read (413, 431, 400…), sent before the connection
    /// closes: a handler gives it what its own errors carry (a request id, its version header). Only a
    /// complete (`.bytes`) body is sent. By default the bare `{"error":{"code","message"}}` envelope.
    func rejection(_ error: HTTPParseError) -> HTTPResponse
}

extension HTTPHandler {
    public func placement(for request: HTTPRequest) -> HandlerPlacement { .pool }

    public func rejection(_ error: HTTPParseError) -> HTTPResponse {
        HTTPResponse(
            status: error.status, headers: ["Content-Type": "application/json"],
            body: .bytes(HTTPResponse.errorEnvelope(code: error.code, message: error.message)))
    }
}

/// Where a handler's task runs.
public enum HandlerPlacement: Sendable {
    /// Swift's cooperative pool: any handler. Starting it and taking its answer back to the
    /// connection's loop are two thread hand-offs (about 0.1 ms each on a busy virtualized host).
    case pool
    /// The connection's loop thread: the task starts at once, on the thread that read the request,
    /// and every step it takes runs there too (its own code, and default actors it calls), so the
    /// answer needs no hand-off either. Only for requests whose work is short and never blocks:
    /// while one step runs, every connection on the loop waits. Unstructured tasks the handler starts
    /// still run on the pool.
    case loop
}

/// A handler made from a closure (tests, small servers).
public struct ClosureHandler: HTTPHandler {
    private let body: @Sendable (HTTPRequest) async -> HTTPResponse
    private let placer: @Sendable (HTTPRequest) -> HandlerPlacement

    /// A handler that calls `body`, placed by `placement` (the pool unless given).
    public init(
        placement: @escaping @Sendable (HTTPRequest) -> HandlerPlacement = { _ in .pool },
        _ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) {
        self.body = body
        placer = placement
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse { await body(request) }

    public func placement(for request: HTTPRequest) -> HandlerPlacement { placer(request) }
}
