import CBhattiShim
import Glibc

extension FileDescriptor {
    /// Writes all of `bytes` to this unix socket with `passing` attached to the first byte (SCM_RIGHTS).
    public func writeAll(_ bytes: [UInt8], passing other: FileDescriptor) throws(Errno) {
        let sent = try withRawValue { (sock) throws(Errno) -> Int in
            try other.withRawValue { (fd) throws(Errno) -> Int in
                try valueOrErrno { bytes.withUnsafeBytes { bh_send_with_fd(sock, $0.baseAddress, $0.count, fd) } }
            }
        }
        if sent < bytes.count { try writeAll(Array(bytes[sent...])) }
    }
}
