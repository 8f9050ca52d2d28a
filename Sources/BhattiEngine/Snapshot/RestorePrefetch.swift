import BhattiSystem
import Foundation
import Glibc

/// Reads a cold sandbox's RAM back from disk while its QEMU is still starting, instead of one page
/// fault at a time once the guest runs.
///
/// A restore maps the RAM file lazily: each guest page the resumed guest touches first is a fault
/// that waits for the disk, and on this host each such fault also reads ahead up to the device's
/// `read_ahead_kb` (8 MiB: 88 MiB read for ~20 MiB used). The pages a waking guest touches are much
/// the same every time (the kernel's text and data, the agent, the page tables), so as it takes a
/// cold snapshot the engine notes which pages QEMU has mapped (touched since it started), and the
/// restore asks the kernel for just those (`WILLNEED`) before spawning QEMU: the reads overlap QEMU's own start-up (~20 ms)
/// rather than the guest's first work. Nothing here changes what the guest sees: it only warms the
/// host's page cache.
enum RestorePrefetch {
    /// Lists above this are not kept: reading them costs the restore more CPU than the faults it
    /// saves (measured: 88 MiB read ahead made QEMU's start as much slower as the guest got faster).
    /// A freshly booted guest has touched more than this; one that woke and went back has not.
    static let maxBytes = 48 << 20

    /// Asks the kernel to read `memory`'s extents listed in `list` into the page cache, on a
    /// dedicated thread (WILLNEED starts the reads and returns). A missing or unreadable list does
    /// nothing: the restore simply faults its pages in.
    static func start(memory: String, list: String) {
        guard let extents = try? read(list), !extents.isEmpty else { return }
        startThread(name: "prefetch") {
            let fd = open(memory, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            for e in extents { _ = posix_fadvise(fd, off_t(e.offset), off_t(e.length), POSIX_FADV_WILLNEED) }
        }
    }

    /// Writes to `list` (replacing it) the extents of `memory` that QEMU `pid` has mapped: the guest
    /// pages touched since QEMU started. Not the page cache's view (mincore): that also holds what
    /// each fault read ahead (8 MiB a fault here), several times what the guest used. Blocking, but
    /// quick (a page-table walk, ~1 ms for 1 GiB). Nothing worth keeping (or too much) removes the list.
    static func record(pid: Int32, memory: String, to list: String) throws {
        let extents = try touched(pid: pid, memory: memory)
        let total = extents.reduce(0) { $0 + $1.length }
        guard total > 0, total <= maxBytes else {
            unlink(list)
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(extents.count * 16)
        for e in extents {
            withUnsafeBytes(of: UInt64(e.offset).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt64(e.length).littleEndian) { bytes += $0 }
        }
        do { try AtomicFile.write(bytes, to: list, mode: 0o600) } catch { throw EngineError.io("write \(list)", error) }
    }

    struct Extent: Equatable {
        var offset: Int
        var length: Int
    }

    /// Runs closer than this are read as one (a syscall per 4 KiB gap is not worth saving the read).
    static let mergeGap = 64 << 10

    /// The file offsets of `memory` that process `pid` has present in its mapping of it, from
    /// /proc/pid/maps (the mapping, found by device and inode) and /proc/pid/pagemap (bit 63: present).
    static func touched(pid: Int32, memory: String) throws -> [Extent] {
        var st = stat()
        guard stat(memory, &st) == 0 else { throw EngineError.io("stat \(memory)", Errno.current) }
        // glibc's major()/minor(), which Swift does not import.
        let dev = UInt64(st.st_dev)
        let major = (dev >> 8) & 0xfff | (dev >> 32) & ~UInt64(0xfff)
        let minor = dev & 0xff | (dev >> 12) & ~UInt64(0xff)
        let device = String(format: "%02x:%02x", major, minor)
        let inode = UInt64(st.st_ino)
        // "start-end perms offset dev inode path". The file comes in pieces, and a line can be missed
        // when the process maps or unmaps something between them: look again before giving up.
        var mapping: [Substring]?
        for _ in 0..<5 where mapping == nil {
            let maps: String
            do { maps = String(decoding: try readWholeFile("/proc/\(pid)/maps"), as: UTF8.self) } catch {
                throw EngineError.io("read /proc/\(pid)/maps", error)
            }
            for line in maps.split(separator: "\n") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                if f.count >= 5, f[3] == device, UInt64(f[4]) == inode {
                    mapping = f
                    break
                }
            }
        }
        guard let fields = mapping else { return [] }
        let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
        guard bounds.count == 2, let fileOffset = Int(fields[2], radix: 16) else { return [] }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = Int(bounds[1] - bounds[0]) / page
        let fd = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError.io("open pagemap of \(pid)", Errno.current) }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: pages)
        let want = pages * 8
        let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(Int(bounds[0]) / page * 8)) }
        guard got == want else { throw EngineError.io("read pagemap of \(pid)", Errno.current) }
        var extents: [Extent] = []
        for i in 0..<pages where entries[i] >> 63 == 1 {
            let offset = fileOffset + i * page
            if let last = extents.last, offset - (last.offset + last.length) <= mergeGap {
                extents[extents.count - 1].length = offset + page - last.offset
            } else {
                extents.append(Extent(offset: offset, length: page))
            }
        }
        return extents
    }

    static func read(_ list: String) throws -> [Extent] {
        guard let data = FileManager.default.contents(atPath: list) else { throw EngineError.io("read \(list)", Errno.noEntry) }
        guard data.count % 16 == 0 else { throw EngineError.io("\(list) is not a list of extents", Errno(rawValue: EINVAL)) }
        let bytes = Array(data)
        return stride(from: 0, to: bytes.count, by: 16).map { at in
            func word(_ i: Int) -> Int {
                var v: UInt64 = 0
                for k in (0..<8).reversed() { v = v << 8 | UInt64(bytes[i + k]) }
                return Int(truncatingIfNeeded: v)
            }
            return Extent(offset: word(at), length: word(at + 8))
        }
    }
}
