import CBhattiShim
import Glibc
import Synchronization

/// An owned file descriptor, closed exactly once: by `close()` or when the last reference goes.
///
/// It is a class so that a reader thread and a writer can share one socket; `close()` from any thread
/// wakes a blocked reader through `shutdown` first (closing alone would not, and would race fd reuse).
public final class FileDescriptor: Sendable {
    public let rawValue: Int32
    private let closed = Atomic<Bool>(false)

    public init(rawValue: Int32) { self.rawValue = rawValue }
    deinit { if !closed.load(ordering: .acquiring) { Glibc.close(rawValue) } }

    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Shuts the socket down (waking blocked readers) and closes it. Idempotent.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        Glibc.shutdown(rawValue, Int32(SHUT_RDWR))
        Glibc.close(rawValue)
    }

    /// Half-closes the write side, so the peer reads EOF.
    public func shutdownWrite() { Glibc.shutdown(rawValue, Int32(SHUT_WR)) }

    /// Reads at most `count` bytes; an empty result means end of file.
    public func read(upTo count: Int) throws(Errno) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let fd = rawValue
        let n = try valueOrErrno { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
        buffer.removeLast(count - n)
        return buffer
    }

    /// Reads into `buffer`, returning the byte count (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try valueOrErrno { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Reads exactly `buffer.count` bytes. Returns false on end of file before the first byte;
    /// throws `EPIPE`-like `.invalid` on end of file in the middle.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = try valueOrErrno { Glibc.read(rawValue, buffer.baseAddress! + done, buffer.count - done) }
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
            let n = try valueOrErrno { Glibc.send(rawValue, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            done += n
        }
    }

    /// Writes all of `bytes` with write(2) (for pipes and character devices, where send(2) fails).
    public func writeAllFile(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = try valueOrErrno { Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done) }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            do { try writeAll(raw); return 0 } catch let e as Errno { return e.rawValue } catch { return EIO }
        }
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    public func writeAllFile(_ bytes: [UInt8]) throws(Errno) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            do { try writeAllFile(raw); return 0 } catch let e as Errno { return e.rawValue } catch { return EIO }
        }
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// Sets a receive timeout (SO_RCVTIMEO); reads then fail with `.wouldBlock`.
    public func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Waits until the descriptor is readable or `timeoutMilliseconds` passes (-1: forever).
    /// Returns the revents (0 on timeout).
    public func poll(events: Int16 = Int16(POLLIN), timeoutMilliseconds: Int32) throws(Errno) -> Int16 {
        var p = pollfd(fd: rawValue, events: events, revents: 0)
        let n = try valueOrErrno { Glibc.poll(&p, 1, timeoutMilliseconds) }
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
