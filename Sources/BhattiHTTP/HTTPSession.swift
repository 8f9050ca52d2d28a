import BhattiSystem
import Glibc
import Synchronization

/// A blocking HTTP/1.1 client that keeps one connection open across requests (keep-alive), for
/// callers that send many requests (benchmarks, SDK-like use). One request at a time; a connection
/// the server closed while idle is replaced once, before anything was answered on it.
public final class HTTPSession: Sendable {
    public let endpoint: HTTPEndpoint
    private let client: HTTPClient
    private let connection = Mutex<FileDescriptor?>(nil)

    public init(endpoint: HTTPEndpoint) {
        self.endpoint = endpoint
        client = HTTPClient(endpoint: endpoint)
    }

    deinit { connection.withLock { $0?.close() } }

    /// Sends a request on the kept-alive connection and reads the whole response.
    public func send(method: String, path: String, headers: HTTPHeaders = [], body: [UInt8] = []) throws(HTTPClientError)
        -> HTTPClientResponse
    {
        let request = try serializeRequest(method: method, path: path, headers: headers, body: body, connection: "keep-alive")
        return try connection.withLock { (current) throws(HTTPClientError) -> HTTPClientResponse in
            let reused = current != nil
            let fd: FileDescriptor
            if let kept = current { fd = kept } else { fd = try client.connect() }
            current = nil
            do throws(HTTPClientError) {
                var received: [UInt8] = []
                var (response, reusable) = try HTTPClient.exchange(on: fd, request: request, method: method, onHead: { _, _ in }) {
                    received += $0
                }
                response.body = received
                if reusable { current = fd } else { fd.close() }
                return response
            } catch {
                fd.close()
                // Only an idle connection the server had already closed is retried: nothing was answered.
                guard reused, Self.isStale(error) else { throw error }
                let fresh = try client.connect()
                var received: [UInt8] = []
                do throws(HTTPClientError) {
                    var (response, reusable) = try HTTPClient.exchange(on: fresh, request: request, method: method, onHead: { _, _ in }) {
                        received += $0
                    }
                    response.body = received
                    if reusable { current = fresh } else { fresh.close() }
                    return response
                } catch {
                    fresh.close()
                    throw error
                }
            }
        }
    }

    private static func isStale(_ error: HTTPClientError) -> Bool {
        switch error {
        case .closed: true
        case .io(let errno): errno == .brokenPipe || errno == Errno(rawValue: ECONNRESET)
        default: false
        }
    }
}
