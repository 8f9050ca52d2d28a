import Glibc

/// inotify: a descriptor on which the kernel queues what happens in the directories watched through
/// it. Closing it removes every watch.
public enum Inotify {
    /// The kernel's mask bits: what to watch for, and what an event says happened.
    public struct Mask: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let modify = Mask(rawValue: UInt32(IN_MODIFY))
        /// Permissions, owner, timestamps, extended attributes, link count.
        public static let attributes = Mask(rawValue: UInt32(IN_ATTRIB))
        public static let movedFrom = Mask(rawValue: UInt32(IN_MOVED_FROM))
        public static let movedTo = Mask(rawValue: UInt32(IN_MOVED_TO))
        public static let create = Mask(rawValue: UInt32(IN_CREATE))
        public static let delete = Mask(rawValue: UInt32(IN_DELETE))
        /// The watched directory itself was deleted, or moved.
        public static let deleteSelf = Mask(rawValue: UInt32(IN_DELETE_SELF))
        public static let moveSelf = Mask(rawValue: UInt32(IN_MOVE_SELF))

        // In events only.
        /// The entry is a directory.
        public static let isDirectory = Mask(rawValue: UInt32(IN_ISDIR))
        /// The watch is gone: removed, or its directory deleted or unmounted. Its last event.
        public static let ignored = Mask(rawValue: UInt32(IN_IGNORED))
        /// The queue overflowed: events were lost (the event's watch is -1).
        public static let overflow = Mask(rawValue: UInt32(IN_Q_OVERFLOW))
        public static let unmount = Mask(rawValue: UInt32(IN_UNMOUNT))

        // When adding a watch only.
        /// Fail with ENOTDIR unless the path is a directory.
        public static let onlyDirectory = Mask(rawValue: UInt32(IN_ONLYDIR))
        /// Do not follow a final symlink.
        public static let doNotFollow = Mask(rawValue: UInt32(IN_DONT_FOLLOW))
        /// No events for entries already unlinked (a deleted file still open elsewhere).
        public static let excludeUnlinked = Mask(rawValue: UInt32(IN_EXCL_UNLINK))
    }

    /// One event, as the kernel reported it.
    public struct Event: Sendable, Equatable {
        /// The watch it came through (-1 for an overflow).
        public var watch: Int32
        public var mask: Mask
        /// Pairs a `movedFrom` with its `movedTo` (0 for everything else).
        public var cookie: UInt32
        /// The entry's name in the watched directory, as bytes (empty for the directory itself).
        public var name: [UInt8]

        public init(watch: Int32, mask: Mask, cookie: UInt32, name: [UInt8]) {
            self.watch = watch
            self.mask = mask
            self.cookie = cookie
            self.name = name
        }
    }

    /// The size of an event record's fixed part (`struct inotify_event` before its name).
    public static let headerSize = MemoryLayout<inotify_event>.size

    /// A new inotify instance: non-blocking (a read with nothing queued is `wouldBlock`), closed on exec.
    public static func make() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) })
    }

    /// Watches `path` (raw bytes, no NUL) for `mask`; returns the watch, the same one again for a path
    /// already watched.
    public static func addWatch(_ fd: FileDescriptor, path: [UInt8], mask: Mask) throws(Errno) -> Int32 {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        return try fd.withRawValue { (raw) throws(Errno) in try valueOrErrno { inotify_add_watch(raw, cPath, mask.rawValue) } }
    }

    /// Stops a watch; its `ignored` event follows. A watch already gone is fine.
    public static func removeWatch(_ fd: FileDescriptor, _ watch: Int32) {
        _ = try? fd.withRawValue { raw in inotify_rm_watch(raw, watch) }
    }

    /// Reads what is queued into `buffer` (at least `headerSize` + 256 bytes, room for one event with
    /// the longest name) and parses it; empty when nothing is queued.
    public static func read(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> [Event] {
        let n: Int
        do { n = try fd.read(into: buffer) } catch {
            if error == .wouldBlock { return [] }
            throw error
        }
        return events(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }

    /// The records in `bytes`, which holds whole records only (as one read returns them).
    public static func events(in bytes: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var offset = 0
        while offset + headerSize <= bytes.count {
            let watch = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let cookie = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + headerSize
            guard nameStart + length <= bytes.count else { break }
            // The name is padded with NULs to an aligned length.
            let name = Array(bytes[nameStart..<nameStart + length].prefix { $0 != 0 })
            events.append(Event(watch: watch, mask: Mask(rawValue: mask), cookie: cookie, name: name))
            offset = nameStart + length
        }
        return events
    }
}
