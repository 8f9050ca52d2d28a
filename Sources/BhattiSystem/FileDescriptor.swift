import CBhattiShim
public import Glibc
import Synchronization

/// An owned file descriptor, closed exactly once: by `close()` or when the last reference goes.
///
/// It is a class so that a reader thread and a writer can share one socket. I/O through its methods
/// is safe against a concurrent `close()`: the number is released to the kernel only once no call is
/// using it, so a late write can never land in whatever descriptor the kernel hands out next under
/// the same number (it fails with EBADF instead). `close()` shuts a socket down first, which wakes a
/// reader blocked in it.
public final class FileDescriptor: Sendable {
    public let rawValue: Int32
    private struct State {
        var closing = false
        var released = false
        var users = 0
    }
    private let state = Mutex(State())

    public init(rawValue: Int32) { self.rawValue = rawValue }
    deinit {
        let release = state.withLock { s in !s.released }
        if release { Glibc.close(rawValue) }
    }

    public var isClosed: Bool { state.withLock { $0.closing } }

    /// Shuts the socket down (waking blocked readers) and closes it once no call is using it. Idempotent.
    public func close() {
        let releaseNow: Bool? = state.withLock { s in
            if s.closing { return nil }
            s.closing = true
            if s.users == 0 { s.released = true }
            return s.released
        }
        guard let releaseNow else { return }
        Glibc.shutdown(rawValue, Int32(SHUT_RDWR))
        if releaseNow { Glibc.close(rawValue) }
    }

    /// Runs `body` with the raw number, which stays valid (not reused) until it returns.
    /// - Throws: `EBADF` once `close()` has been called.
    public func withRawValue<R>(_ body: (Int32) throws(Errno) -> R) throws(Errno) -> R {
        let ok = state.withLock { s -> Bool in
            guard !s.closing else { return false }
            s.users += 1
            return true
        }
        guard ok else { throw .badFileDescriptor }
        defer {
            let release = state.withLock { s -> Bool in
                s.users -= 1
                guard s.closing, s.users == 0, !s.released else { return false }
                s.released = true
                return true
            }
            if release { Glibc.close(rawValue) }
        }
        return try body(rawValue)
    }

    /// Half-closes the write side, so the peer reads EOF.
    public func shutdownWrite() { _ = try? withRawValue { fd in Glibc.shutdown(fd, Int32(SHUT_WR)) } }

    /// Reads at most `count` bytes; an empty result means end of file.
    public func read(upTo count: Int) throws(Errno) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try withRawValue { (fd) throws(Errno) in
            try valueOrErrno { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
        }
        buffer.removeLast(count - n)
        return buffer
    }

    /// Reads into `buffer`, returning the byte count (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try withRawValue { (fd) throws(Errno) in try valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) } }
    }

    /// Reads exactly `buffer.count` bytes. Returns false on end of file before the first byte;
    /// throws `EPIPE`-like `.invalid` on end of file in the middle.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = try withRawValue { (fd) throws(Errno) in
                try valueOrErrno { Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done) }
            }
            if n == 0 {
                if done == 0 { return false }
                throw Errno(rawValue: EPROTO)
            }
            done += n
        }
        return true
    }

    /// Writes all of `bytes`, retrying short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = try withRawValue { (fd) throws(Errno) in
                try valueOrErrno { Glibc.send(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            }
            done += n
        }
    }

    /// Sends what the socket takes of `bytes` now, without waiting: the count sent, 0 when its buffer
    /// is full.
    public func sendWithoutWaiting(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        do {
            return try withRawValue { (fd) throws(Errno) in
                try valueOrErrno { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            }
        } catch {
            if error == .wouldBlock { return 0 }
            throw error
        }
    }

    /// Whether a socket's peer closed its end: a non-blocking peek reads end of file (0) or an error.
    /// Bytes waiting to be read (a pipelined request) are not a hang-up.
    public func peerHungUp() -> Bool {
        let result = try? withRawValue { raw -> (Int, Errno) in
            var byte: UInt8 = 0
            let n = Glibc.recv(raw, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            return (n, Errno.current)
        }
        guard let (n, error) = result else { return true }
        if n > 0 { return false }
        if n == 0 { return true }
        return error != .wouldBlock && error != .interrupted
    }

    /// Writes all of `bytes` with write(2) (for pipes and character devices, where send(2) fails).
    public func writeAllFile(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = try withRawValue { (fd) throws(Errno) in
                try valueOrErrno { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
            }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            do {
                try writeAll(raw)
                return 0
            } catch let e as Errno { return e.rawValue } catch { return EIO }
        }
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    public func writeAllFile(_ bytes: [UInt8]) throws(Errno) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            do {
                try writeAllFile(raw)
                return 0
            } catch let e as Errno { return e.rawValue } catch { return EIO }
        }
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// Sets a receive timeout (SO_RCVTIMEO); reads then fail with `.wouldBlock`.
    public func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = try? withRawValue { fd in setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// Waits until the descriptor is readable or `timeoutMilliseconds` passes (-1: forever).
    /// Returns the revents (0 on timeout).
    public func poll(events: Int16 = Int16(POLLIN), timeoutMilliseconds: Int32) throws(Errno) -> Int16 {
        var p = pollfd(fd: rawValue, events: events, revents: 0)
        let n = try withRawValue { (_) throws(Errno) in try valueOrErrno { Glibc.poll(&p, 1, timeoutMilliseconds) } }
        return n == 0 ? 0 : p.revents
    }
}

/// Pipes and socket pairs.
public enum Pipe {
    /// A close-on-exec pipe: (read end, write end).
    public static func make() throws(Errno) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [0, 0]
        try valueOrNegatedErrno(bh_pipe(&fds))
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// A connected AF_UNIX stream pair.
    public static func socketPair() throws(Errno) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [0, 0]
        try valueOrNegatedErrno(bh_socketpair(&fds))
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
