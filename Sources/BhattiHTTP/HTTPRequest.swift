/// An HTTP protocol version (only 1.0 and 1.1 are spoken).
public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    /// The major version number.
    public var major: Int
    /// The minor version number.
    public var minor: Int

    /// A version from its two numbers.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: the connection closes after each exchange unless the client asks for keep-alive.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1: connections persist unless either side says `Connection: close`.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A request as the server hands it to a handler: head plus the whole body, or on a streamed route
/// (`HTTPLimits.streamsBody`) the head with `bodyStream` still arriving.
public struct HTTPRequest: Sendable {
    /// The method token as sent (`GET`, `POST`, ...); methods are case-sensitive.
    public var method: String
    /// The request target exactly as sent (path and query, still percent-encoded).
    public var target: String
    /// The percent-decoded path, without the query.
    public var path: String
    /// The decoded query parameters (`+` is a space); a name may repeat.
    public var query: [String: [String]]
    /// The protocol version of the request.
    public var version: HTTPVersion
    /// The header fields in the order received.
    public var headers: HTTPHeaders
    /// The body, de-chunked; empty when it streams.
    public var body: [UInt8]
    /// The body as it arrives, on a streamed route with a non-empty Content-Length body; nil otherwise.
    public var bodyStream: RequestBodyStream?
    /// The client's IP address over TCP; nil over a unix socket.
    public var remoteAddress: String?
    /// Whether the client spoke TLS (to a `TLSTerminator` in front of this server).
    public var isSecure = false

    /// A request whose path and query are decoded from `target` (kept raw where the encoding is invalid).
    public init(
        method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [], body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        if let parsed = RequestTarget(target) {
            path = parsed.path
            query = parsed.query
        } else {
            path = String(target.prefix { $0 != "?" })
            query = [:]
        }
    }

    /// A request from an already decoded target (the parser has decoded it to validate it).
    init(method: String, target: String, decoded: RequestTarget, version: HTTPVersion, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        body = []
        path = decoded.path
        query = decoded.query
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? { query[name]?.first }

    /// Whether the client lets the connection stay open after this exchange.
    public var keepAlive: Bool {
        let tokens = headers.tokens(for: "Connection")
        if tokens.contains("close") { return false }
        return version == .http1_1 || tokens.contains("keep-alive")
    }
}

/// A request target split into its decoded path and query.
struct RequestTarget: Equatable {
    var path: String
    var query: [String: [String]]

    /// Parses origin-form (`/a?b=c`), absolute-form (`http://host/a`) and `*`; nil when the target is invalid.
    init?(_ target: String) {
        var raw = Substring(target)
        if raw == "*" {
            path = "*"
            query = [:]
            return
        }
        // The origin form first: the generic substring search is costly on every request.
        if raw.first != "/", let schemeEnd = raw.firstRange(of: "://") {
            let scheme = raw[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else { return nil }
            let afterAuthority = raw[schemeEnd.upperBound...].drop { $0 != "/" && $0 != "?" }
            raw = afterAuthority.first == "/" ? afterAuthority : "/" + afterAuthority
        }
        guard raw.first == "/" else { return nil }
        guard raw.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let rawPath = raw.prefix { $0 != "?" }
        guard let decodedPath = percentDecode(rawPath, plusIsSpace: false), !decodedPath.contains("\0") else {
            return nil
        }
        path = decodedPath
        query = [:]
        guard rawPath.endIndex < raw.endIndex else { return }
        for pair in raw[raw.index(after: rawPath.endIndex)...].split(separator: "&", omittingEmptySubsequences: true) {
            let name = pair.prefix { $0 != "=" }
            let value = name.endIndex < pair.endIndex ? pair[pair.index(after: name.endIndex)...] : ""
            guard let key = percentDecode(name, plusIsSpace: true), let decoded = percentDecode(value, plusIsSpace: true)
            else { return nil }
            query[key, default: []].append(decoded)
        }
    }
}

/// Decodes `%XX` escapes; nil for a broken escape or bytes that are not UTF-8.
func percentDecode(_ text: Substring, plusIsSpace: Bool) -> String? {
    let utf8 = Array(text.utf8)
    guard utf8.contains(where: { $0 == 0x25 || (plusIsSpace && $0 == 0x2B) }) else { return String(text) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count)
    var index = 0
    while index < utf8.count {
        let byte = utf8[index]
        if byte == 0x25 {
            guard index + 2 < utf8.count, let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2])
            else { return nil }
            bytes.append(high << 4 | low)
            index += 3
        } else {
            bytes.append(plusIsSpace && byte == 0x2B ? 0x20 : byte)
            index += 1
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

/// The value of one hexadecimal digit.
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}
