import BhattiSystem
import Glibc

extension GuestFile {
    /// The names in the directory open as `dir`, "." and ".." left out, as NUL-terminated raw bytes (a
    /// name that is not UTF-8 must reach the `*at` calls unchanged). Read through a duplicate of
    /// `dir`, which stays open for the caller's `*at` calls.
    static func entryNames(in dir: Int32) throws(Errno) -> [[CChar]] {
        let dup = fcntl(dir, F_DUPFD_CLOEXEC, 0)
        guard dup >= 0 else { throw Errno.current }
        // fdopendir owns the duplicate from here on: closedir closes it.
        guard let stream = fdopendir(dup) else {
            let e = Errno.current
            close(dup)
            throw e
        }
        defer { closedir(stream) }
        var names: [[CChar]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno.current }
                return names
            }
            var name = withUnsafeBytes(of: entry.pointee.d_name) { raw in raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) } }
            if name == [46] || name == [46, 46] { continue }  // "." and ".."
            name.append(0)
            names.append(name)
        }
    }

    /// A NUL-terminated name from `entryNames` as bytes, without its NUL.
    static func bytes(_ name: [CChar]) -> [UInt8] { name.dropLast().map { UInt8(bitPattern: $0) } }
}
