import Glibc

/// The whole of a file whose size reads as 0, such as those under /proc: read until a read returns
/// nothing. Foundation's `String(contentsOfFile:)` and `FileManager.contents(atPath:)` stop at the
/// first 4 KiB of such a file (measured on /proc/self/maps: 4,047 of 304,797 bytes).
public func readWholeFile(_ path: String) throws(Errno) -> [UInt8] {
    let raw = open(path, O_RDONLY | O_CLOEXEC)
    guard raw >= 0 else { throw Errno.current }
    let file = FileDescriptor(rawValue: raw)
    defer { file.close() }
    var out: [UInt8] = []
    while true {
        let chunk = try file.read(upTo: 64 << 10)
        if chunk.isEmpty { return out }
        out += chunk
    }
}
