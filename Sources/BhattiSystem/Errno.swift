import Glibc

/// A POSIX error number, as returned by a failed system call.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let noEntry = Errno(rawValue: ENOENT)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    public static let noChild = Errno(rawValue: ECHILD)
    public static let noProcess = Errno(rawValue: ESRCH)
    public static let invalid = Errno(rawValue: EINVAL)

    public var description: String { String(cString: strerror(rawValue)) }
}

/// The one funnel for libc calls that return -1 and set errno; retries EINTR unless told not to.
@discardableResult
public func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> I) throws(Errno) -> I {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        throw error
    }
}

/// For the C shim's convention: a negative result is `-errno`.
@discardableResult
public func valueOrNegatedErrno<I: FixedWidthInteger & SignedInteger>(_ result: I) throws(Errno) -> I {
    if result < 0 { throw Errno(rawValue: Int32(truncatingIfNeeded: -result)) }
    return result
}
