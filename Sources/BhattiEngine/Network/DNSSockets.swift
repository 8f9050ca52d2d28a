import BhattiSystem
import Glibc

/// An IPv4 address and port, host order.
public struct DNSEndpoint: Hashable, Sendable {
    public var address: UInt32
    public var port: UInt16
    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// The socket calls the responder makes: IPv4 datagrams without waiting, and TCP with deadlines.
enum DNSSockets {
    /// A non-blocking UDP socket in this process's (the host's) namespace, on an ephemeral port.
    static func udp() throws(Errno) -> FileDescriptor {
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { throw Errno.current }
        return FileDescriptor(rawValue: raw)
    }

    /// Sends one datagram if the socket takes it now; a full buffer or an error drops it (DNS retries).
    static func send(_ fd: FileDescriptor, _ bytes: [UInt8], to endpoint: DNSEndpoint) {
        var address = sockaddr(endpoint)
        _ = try? fd.withRawValue { raw in
            bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                        sendto(
                            raw, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), $0,
                            socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
    }

    enum Received {
        /// Nothing waits (or the socket failed): stop reading it for now.
        case nothing
        /// A datagram larger than the buffer, or not IPv4: dropped.
        case dropped
        case datagram([UInt8], from: DNSEndpoint)
    }

    /// One waiting datagram and its sender.
    static func receive(_ fd: FileDescriptor, into buffer: inout [UInt8]) -> Received {
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n: Int? = try? fd.withRawValue { raw in
            buffer.withUnsafeMutableBytes { out in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                        recvfrom(raw, out.baseAddress, out.count, Int32(MSG_DONTWAIT | MSG_TRUNC), $0, &length)
                    }
                }
            }
        }
        guard let n, n >= 0 else { return .nothing }
        guard n <= buffer.count, Int32(from.sin_family) == AF_INET else { return .dropped }
        return .datagram(Array(buffer[0..<n]), from: endpoint(from))
    }

    /// Accepts a waiting connection (blocking from then on, close-on-exec from the start: a QEMU spawned
    /// meanwhile must not inherit it); nil when none waits.
    static func accept(_ listener: FileDescriptor) -> (FileDescriptor, DNSEndpoint)? {
        guard let connection = try? Socket.accept(listener) else { return nil }
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named =
            (try? connection.withRawValue { fd in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
                }
            }) == 0
        guard named else {
            connection.close()
            return nil
        }
        return (connection, endpoint(from))
    }

    /// A TCP connection to `endpoint` within `timeoutMilliseconds`, with that deadline on every read
    /// and write after; nil when it cannot be made.
    static func connect(_ endpoint: DNSEndpoint, timeoutMilliseconds: Int32) -> FileDescriptor? {
        let raw = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { return nil }
        let fd = FileDescriptor(rawValue: raw)
        var address = sockaddr(endpoint)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { Glibc.connect(raw, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            guard errno == EINPROGRESS, (try? fd.poll(events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds)) ?? 0 != 0 else {
                return nil
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(raw, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return nil }
        }
        _ = fcntl(raw, F_SETFL, fcntl(raw, F_GETFL) & ~O_NONBLOCK)
        setDeadlines(fd, milliseconds: Int(timeoutMilliseconds))
        return fd
    }

    /// SO_RCVTIMEO and SO_SNDTIMEO: a stalled peer ends the exchange instead of holding its thread.
    static func setDeadlines(_ fd: FileDescriptor, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            _ = try? fd.withRawValue { raw in setsockopt(raw, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) }
        }
    }

    /// One length-prefixed DNS message (RFC 1035 §4.2.2), whole by `deadline`; nil at end of stream,
    /// past the deadline, or when it is shorter than a header. The deadline bounds the whole read, so a
    /// peer that trickles a byte at a time cannot hold the thread (a socket timeout restarts per read).
    static func readFrame(_ fd: FileDescriptor, until deadline: ContinuousClock.Instant) -> [UInt8]? {
        guard let prefix = read(fd, count: 2, until: deadline) else { return nil }
        let length = Int(prefix[0]) << 8 | Int(prefix[1])
        guard length >= DNSQuery.headerSize else { return nil }
        return read(fd, count: length, until: deadline)
    }

    private static func read(_ fd: FileDescriptor, count: Int, until deadline: ContinuousClock.Instant) -> [UInt8]? {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard (try? fd.poll(events: Int16(POLLIN), timeoutMilliseconds: milliseconds)) ?? 0 != 0,
                let chunk = try? fd.read(upTo: count - bytes.count), !chunk.isEmpty
            else { return nil }
            bytes += chunk
        }
        return bytes
    }

    static func writeFrame(_ fd: FileDescriptor, _ message: [UInt8]) -> Bool {
        guard message.count <= 0xFFFF else { return false }
        return (try? fd.writeAll([UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message)) != nil
    }

    private static func sockaddr(_ endpoint: DNSEndpoint) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        address.sin_addr = in_addr(s_addr: endpoint.address.bigEndian)
        return address
    }

    private static func endpoint(_ address: sockaddr_in) -> DNSEndpoint {
        DNSEndpoint(address: UInt32(bigEndian: address.sin_addr.s_addr), port: UInt16(bigEndian: address.sin_port))
    }
}
