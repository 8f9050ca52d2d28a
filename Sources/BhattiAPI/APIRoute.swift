import Foundation

/// Every endpoint the daemon serves, with its path parameters: the server dispatches on the case
/// `match` finds, and clients build each request's method and path from one, so neither spells a
/// `/v1/…` path by hand. A sandbox is named by its name or id; `port` stays text because the handler,
/// not the router, refuses one that is not a number (400 with the reason, where a 404 would mislead).
public enum APIRoute: Sendable, Equatable {
    case health
    case listSandboxes, createSandbox
    case sandbox(String), editSandbox(String), destroySandbox(String)
    case pause(String), stop(String), start(String)
    case createSnapshot(String)
    /// A new image (`{"name": …}`) from the sandbox's current disk.
    case saveImage(String)
    case exec(String)
    /// A piped exec over a WebSocket.
    case execSocket(String)
    /// `?path=` names the file; `ls=true` lists a directory.
    case readFile(String), statFile(String), writeFile(String)
    case shell(String)
    case sessions(String)
    case publish(String), publishRules(String), unpublish(String, port: String)
    /// Any method, passed through to the guest's `localhost:port`; what follows the port is the
    /// upstream path, which the proxy takes from the raw request target.
    case proxy(String, port: String, method: String)
    case snapshots, restoreSnapshot(String), deleteSnapshot(String)
    case images, image(String), deleteImage(String)
    /// The body is an `oci-archive` or `docker-archive` tar, streamed.
    case importImage(String)
    case users, createUser, editUser(String), deleteUser(String), rotateKey(String)
    case secrets, setSecret, deleteSecret(String)
    case events

    /// The request method.
    public var method: String { signature.method }

    /// The path with each parameter percent-encoded, for a client's request line.
    public var path: String {
        let (_, template, parameters) = signature
        var values = parameters.makeIterator()
        let segments = Self.segments(template).map { $0.hasPrefix(":") ? Self.encode(values.next() ?? "") : $0 }
        return "/" + segments.joined(separator: "/")
    }

    /// The path and a query string built from `query`, names and values percent-encoded.
    public func target(query: [(String, String)]) -> String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
    }

    /// Whether the route needs an API key: everything but the health check.
    public var needsKey: Bool { self != .health }

    /// Method, template (`:name` marks a parameter) and parameters, in the template's order. The
    /// templates are those of `table`; the round-trip test holds the two together.
    var signature: (method: String, template: String, parameters: [String]) {
        switch self {
        case .health: ("GET", "/health", [])
        case .listSandboxes: ("GET", "/v1/sandboxes", [])
        case .createSandbox: ("POST", "/v1/sandboxes", [])
        case .sandbox(let s): ("GET", "/v1/sandboxes/:sandbox", [s])
        case .editSandbox(let s): ("PATCH", "/v1/sandboxes/:sandbox", [s])
        case .destroySandbox(let s): ("DELETE", "/v1/sandboxes/:sandbox", [s])
        case .pause(let s): ("POST", "/v1/sandboxes/:sandbox/pause", [s])
        case .stop(let s): ("POST", "/v1/sandboxes/:sandbox/stop", [s])
        case .start(let s): ("POST", "/v1/sandboxes/:sandbox/start", [s])
        case .createSnapshot(let s): ("POST", "/v1/sandboxes/:sandbox/snapshots", [s])
        case .saveImage(let s): ("POST", "/v1/sandboxes/:sandbox/image", [s])
        case .exec(let s): ("POST", "/v1/sandboxes/:sandbox/exec", [s])
        case .execSocket(let s): ("GET", "/v1/sandboxes/:sandbox/exec/ws", [s])
        case .readFile(let s): ("GET", "/v1/sandboxes/:sandbox/files", [s])
        case .statFile(let s): ("HEAD", "/v1/sandboxes/:sandbox/files", [s])
        case .writeFile(let s): ("PUT", "/v1/sandboxes/:sandbox/files", [s])
        case .shell(let s): ("GET", "/v1/sandboxes/:sandbox/shell", [s])
        case .sessions(let s): ("GET", "/v1/sandboxes/:sandbox/sessions", [s])
        case .publish(let s): ("POST", "/v1/sandboxes/:sandbox/publish", [s])
        case .publishRules(let s): ("GET", "/v1/sandboxes/:sandbox/publish", [s])
        case .unpublish(let s, let port): ("DELETE", "/v1/sandboxes/:sandbox/publish/:port", [s, port])
        case .proxy(let s, let port, let method): (method, "/v1/sandboxes/:sandbox/proxy/:port", [s, port])
        case .snapshots: ("GET", "/v1/snapshots", [])
        case .restoreSnapshot(let name): ("POST", "/v1/snapshots/:snapshot/restore", [name])
        case .deleteSnapshot(let name): ("DELETE", "/v1/snapshots/:snapshot", [name])
        case .images: ("GET", "/v1/images", [])
        case .image(let name): ("GET", "/v1/images/:image", [name])
        case .deleteImage(let name): ("DELETE", "/v1/images/:image", [name])
        case .importImage(let name): ("POST", "/v1/images/:image/import", [name])
        case .users: ("GET", "/v1/users", [])
        case .createUser: ("POST", "/v1/users", [])
        case .editUser(let name): ("PATCH", "/v1/users/:user", [name])
        case .deleteUser(let name): ("DELETE", "/v1/users/:user", [name])
        case .rotateKey(let name): ("POST", "/v1/users/:user/rotate-key", [name])
        case .secrets: ("GET", "/v1/secrets", [])
        case .setSecret: ("POST", "/v1/secrets", [])
        case .deleteSecret(let name): ("DELETE", "/v1/secrets/:secret", [name])
        case .events: ("GET", "/v1/events", [])
        }
    }

    static func segments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// RFC 3986's unreserved characters, ASCII only: Foundation's `.alphanumerics` would leave
    /// non-ASCII letters raw, which no request line may carry.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
