public import BhattiSystem

/// A listener the daemon could not open: which address, what it was for, and the setting that moves
/// it, so "address already in use" tells an operator what to change.
public struct ListenError: Error, Sendable, CustomStringConvertible {
    /// Each of the daemon's listeners, with the flag and config key that set its address.
    public enum Purpose: Sendable {
        case apiSocket, apiTCP, publicProxy

        var name: String {
            switch self {
            case .apiSocket: "the API's unix socket"
            case .apiTCP: "the API over TCP"
            case .publicProxy: "the public preview proxy"
            }
        }

        var setting: String {
            switch self {
            case .apiSocket: #"--data-dir DIR or "data_dir" in the config file (the socket is <data-dir>/api.sock)"#
            case .apiTCP: #"--listen HOST:PORT or "listen" in the config file (empty turns TCP off)"#
            case .publicProxy: #"--proxy-listen HOST:PORT or "proxy_listen" in the config file (empty turns the proxy off)"#
            }
        }
    }

    public let address: String
    public let purpose: Purpose
    public let cause: Errno

    public var description: String {
        "cannot listen on \(address) for \(purpose.name): \(cause); change it with \(purpose.setting)"
    }

    /// `listen()`, its failure as a `ListenError`.
    static func opening<T>(_ address: String, for purpose: Purpose, _ listen: () throws(Errno) -> T) throws(ListenError) -> T {
        do {
            return try listen()
        } catch {
            throw ListenError(address: address, purpose: purpose, cause: error)
        }
    }
}
