import BhattiSystem
import Foundation
import Glibc
import Testing

@Suite("inotify")
struct InotifyTests {
    /// One kernel record: header, then the name NUL-padded to `padded` bytes.
    static func record(watch: Int32, mask: UInt32, cookie: UInt32, name: String, padded: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [UInt32(bitPattern: watch), mask, cookie, UInt32(padded)] { withUnsafeBytes(of: value) { bytes += $0 } }
        let name = Array(name.utf8)
        return bytes + name + [UInt8](repeating: 0, count: padded - name.count)
    }

    @Test("records parse: watch, mask, cookie, the name without its padding, an empty name, one cut short is left")
    func parse() {
        let bytes =
            Self.record(watch: 1, mask: UInt32(IN_CREATE), cookie: 0, name: "a.txt", padded: 16)
            + Self.record(watch: 2, mask: UInt32(IN_MOVED_FROM) | UInt32(IN_ISDIR), cookie: 77, name: "dir", padded: 4)
            + Self.record(watch: 1, mask: UInt32(IN_IGNORED), cookie: 0, name: "", padded: 0)
        let cut = Self.record(watch: 3, mask: UInt32(IN_DELETE), cookie: 0, name: "x", padded: 16).dropLast(4)
        let events = (bytes + cut).withUnsafeBytes { Inotify.events(in: $0) }
        #expect(
            events == [
                Inotify.Event(watch: 1, mask: .create, cookie: 0, name: Array("a.txt".utf8)),
                Inotify.Event(watch: 2, mask: [.movedFrom, .isDirectory], cookie: 77, name: Array("dir".utf8)),
                Inotify.Event(watch: 1, mask: .ignored, cookie: 0, name: []),
            ])
    }

    @Test("a real watch: nothing queued reads empty; a create and a rename pair come through; a file is ENOTDIR")
    func real() throws {
        let dir = "/tmp/inotify-\(UUID().uuidString)"
        #expect(mkdir(dir, 0o755) == 0)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fd = try Inotify.make()
        defer { fd.close() }
        let watch = try Inotify.addWatch(fd, path: Array(dir.utf8), mask: [.create, .movedFrom, .movedTo, .onlyDirectory])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        #expect(try Inotify.read(fd, into: buffer).isEmpty)
        close(open(dir + "/a", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644))
        #expect(rename(dir + "/a", dir + "/b") == 0)
        var events: [Inotify.Event] = []
        while events.count < 3 {
            #expect(try fd.poll(timeoutMilliseconds: 60_000) != 0)
            events += try Inotify.read(fd, into: buffer)
        }
        #expect(events.map(\.watch) == [watch, watch, watch])
        #expect(events.map(\.mask) == [.create, .movedFrom, .movedTo])
        #expect(events.map { String(decoding: $0.name, as: UTF8.self) } == ["a", "a", "b"])
        #expect(events[1].cookie == events[2].cookie && events[1].cookie != 0)
        close(open(dir + "/file", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644))
        #expect(throws: Errno(rawValue: ENOTDIR)) {
            try Inotify.addWatch(fd, path: Array((dir + "/file").utf8), mask: [.create, .onlyDirectory])
        }
    }
}
