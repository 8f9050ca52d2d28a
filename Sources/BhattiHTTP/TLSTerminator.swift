public import BhattiSystem
import CBhattiShim
import COpenSSL
import Glibc
import Synchronization

/// TLS in front of an `HTTPServer`: accepts TCP, does the TLS handshake with OpenSSL, and hands the
/// server the plain side of a socket pair, with the client's address and `isSecure`, as if it had
/// accepted the connection itself. Each TLS connection costs a thread that relays records both ways
/// (one thread per connection, so `SSL_read` and `SSL_write` never run concurrently on one `SSL`).
/// Meant for the public preview proxy, not the API.
public final class TLSTerminator: Sendable {
    /// An `SSL_CTX`, immutable after setup and shared by the connection threads (OpenSSL allows that).
    private struct Context: @unchecked Sendable { let pointer: OpaquePointer }

    private let context: Context
    private let state = Mutex<(listener: FileDescriptor?, stopped: Bool)>((nil, false))
    /// How long a client may take to complete the handshake.
    static let handshakeTimeoutMilliseconds = 10_000

    /// Loads a PEM certificate chain and private key; fails with the reason if they are unusable or do
    /// not match.
    public init(certificateChain: String, privateKey: String) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new", Self.lastError()) }
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        guard SSL_CTX_use_certificate_chain_file(ctx, certificateChain) == 1 else {
            SSL_CTX_free(ctx)
            throw TLSError("cannot load the certificate \(certificateChain)", Self.lastError())
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKey, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            SSL_CTX_free(ctx)
            throw TLSError("cannot load the private key \(privateKey) (or it does not match the certificate)", Self.lastError())
        }
        context = Context(pointer: ctx)
    }

    deinit { SSL_CTX_free(context.pointer) }

    /// Listens on `host:port` (0 picks one) and serves every connection into `server`; returns the port.
    public func listen(host: String, port: Int, into server: HTTPServer) throws(Errno) -> Int {
        let listener = try Socket.listen(host: host, port: port)
        let bound = try Socket.localPort(of: listener)
        state.withLock { $0.listener = listener }
        startThread(name: "bhatti-tls-accept") { [self] in
            while true {
                guard let client = try? Socket.accept(listener) else {
                    if state.withLock({ $0.stopped }) { return }
                    continue
                }
                startThread(name: "bhatti-tls") { [self] in serve(client, into: server) }
            }
        }
        return bound
    }

    /// Stops accepting; connections already relayed end with their server side.
    public func stop() {
        let listener = state.withLock { s -> FileDescriptor? in
            s.stopped = true
            return s.listener
        }
        if let listener {
            _ = try? listener.withRawValue { shutdown($0, Int32(SHUT_RDWR)) }
        }
    }

    private func serve(_ client: FileDescriptor, into server: HTTPServer) {
        defer { client.close() }
        var address = [CChar](repeating: 0, count: 64)
        let remote =
            bh_peer_address(client.rawValue, &address, address.count) == 0
            ? String(decoding: address.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        guard let ssl = SSL_new(context.pointer) else { return }
        defer { SSL_free(ssl) }
        client.setReceiveTimeout(milliseconds: Self.handshakeTimeoutMilliseconds)
        guard SSL_set_fd(ssl, client.rawValue) == 1, SSL_accept(ssl) == 1 else {
            ERR_clear_error()
            return
        }
        client.setReceiveTimeout(milliseconds: 0)
        guard let (plain, theirs) = try? Pipe.socketPair() else { return }
        defer { plain.close() }
        guard bh_set_nonblocking(theirs.rawValue, 1) == 0 else {
            theirs.close()
            return
        }
        server.serve(connection: theirs, remoteAddress: remote, secure: true)
        _ = bh_set_nonblocking(client.rawValue, 1)
        relay(ssl, client: client, plain: plain)
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Decrypted client bytes to the server, the server's bytes encrypted to the client, until either
    /// side ends. The client socket is non-blocking (OpenSSL answers WANT_READ/WANT_WRITE), the plain
    /// one blocking.
    private func relay(_ ssl: OpaquePointer, client: FileDescriptor, plain: FileDescriptor) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            var fds = [
                pollfd(fd: client.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: plain.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            // Records OpenSSL already decrypted do not make the socket readable: drain them first.
            if SSL_pending(ssl) == 0 {
                guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            } else {
                fds[0].revents = Int16(POLLIN)
            }
            if fds[0].revents != 0 {
                while true {
                    let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
                    if n > 0 {
                        guard (try? plain.writeAll(Array(buffer[0..<Int(n)]))) != nil else { return }
                        continue
                    }
                    let error = SSL_get_error(ssl, n)
                    if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { break }
                    return  // closed, or a TLS error
                }
            }
            if fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(plain.rawValue, $0.baseAddress, $0.count) }
                guard n > 0 else { return }  // the server closed: the answer is complete
                guard write(ssl, client: client, Array(buffer[0..<n])) else { return }
            }
        }
    }

    /// SSL_write all of `bytes`, waiting for the socket when OpenSSL asks.
    private func write(_ ssl: OpaquePointer, client: FileDescriptor, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                offset += Int(n)
                continue
            }
            let error = SSL_get_error(ssl, n)
            guard error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ else { return false }
            var fd = pollfd(fd: client.rawValue, events: Int16(error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), revents: 0)
            guard poll(&fd, 1, 30_000) > 0 else { return false }
        }
        return true
    }

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why TLS could not be set up, with OpenSSL's own words.
public struct TLSError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String, _ openssl: String) {
        description = openssl.isEmpty ? what : "\(what): \(openssl)"
    }
}
