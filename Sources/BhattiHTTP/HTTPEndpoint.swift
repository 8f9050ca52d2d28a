import Glibc

/// Where a client connects: a unix socket path or a numeric TCP address.
public enum HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// A unix stream socket at an absolute path.
    case unix(path: String)
    /// A numeric IPv4 or IPv6 address and port.
    case tcp(host: String, port: Int)

    /// Parses `unix:///path/api.sock`, `http://127.0.0.1:8080`, `http://[::1]:8080` or
    /// `http://localhost:8080` (as 127.0.0.1), with or without a trailing slash; nil for anything else
    /// (other schemes, paths after the authority, names that need DNS).
    public init?(url: String) {
        if let rest = url.dropPrefixCaseInsensitive("unix://") {
            var path = Substring(rest)
            while path.count > 1, path.last == "/" { path.removeLast() }
            guard path.first == "/", path.count > 1 else { return nil }
            self = .unix(path: String(path))
            return
        }
        guard let rest = url.dropPrefixCaseInsensitive("http://") else { return nil }
        let authority = rest.prefix { $0 != "/" }
        guard rest[authority.endIndex...].allSatisfy({ $0 == "/" }), !authority.isEmpty, !authority.contains("@")
        else { return nil }
        let host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), let value = Int(portText),
                (1...65535).contains(value)
            else { return nil }
            port = value
        }
        let address = host.lowercased() == "localhost" ? "127.0.0.1" : String(host)
        guard isNumericAddress(address) else { return nil }
        self = .tcp(host: address, port: port)
    }

    /// The endpoint as a URL that `init(url:)` reads back.
    public var url: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        }
    }

    public var description: String { url }
}

/// Whether `text` is an IPv4 or IPv6 literal (the socket layer does no name resolution).
private func isNumericAddress(_ text: String) -> Bool {
    var storage = in6_addr()
    return inet_pton(AF_INET, text, &storage) == 1 || inet_pton(AF_INET6, text, &storage) == 1
}

extension String {
    fileprivate func dropPrefixCaseInsensitive(_ prefix: String) -> Substring? {
        guard utf8.count >= prefix.utf8.count, headerNamesEqual(String(self.prefix(prefix.count)), prefix) else {
            return nil
        }
        return dropFirst(prefix.count)
    }
}
