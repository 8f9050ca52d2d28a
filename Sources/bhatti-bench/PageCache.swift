import Glibc

/// How much of a file the host keeps in its page cache, asked of the kernel rather than assumed.
enum PageCache {
    /// Resident bytes of `path`: the file is mapped read-only and shared (nothing is faulted in by
    /// that) and mincore reports which of its pages are cached. Since Linux 5.0 this needs the
    /// caller to own the file or be able to write it; the bench runs as the daemon's user, so it does.
    static func residentBytes(_ path: String) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BenchError("fstat \(path): errno \(errno)") }
        let size = Int(info.st_size)
        guard size > 0 else { return 0 }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw BenchError("mmap \(path): errno \(errno)")
        }
        defer { munmap(base, size) }
        let page = sysconf(Int32(_SC_PAGESIZE))
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(base, size, &vector) == 0 else { throw BenchError("mincore \(path): errno \(errno)") }
        return vector.reduce(0) { $0 + Int($1 & 1) } * page
    }

    static func residentMiB(_ path: String) throws -> Double { Double(try residentBytes(path)) / Double(1 << 20) }
}
