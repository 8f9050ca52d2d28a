import BhattiSystem
import BhattiWire
import Glibc

/// The directories one watch covers, each an inotify watch known by its path relative to the watched
/// one: that directory and, when recursive, every directory below it, those made or moved in later
/// included. Turns the kernel's events into E2B's, named relative to the watched directory.
///
/// Used by its stream's thread only. Closing its descriptor (`close`) removes every watch at once.
final class WatchTree {
    let fd: FileDescriptor
    private let root: [UInt8]
    private let recursive: Bool
    /// Watch → directory relative to the root (empty for the root).
    private var directories: [Int32: [UInt8]] = [:]
    private var rootWatch: Int32 = -1
    /// Directories moved away whose new name is not known yet, by the move's cookie: their watches,
    /// taken out of `directories` (what happens in them meanwhile has no name to report), and the
    /// batch that saw them go. The `movedTo` that names them puts them back under the new name; one
    /// a whole further batch does not bring left the tree, and its watches are removed.
    private var movedAway: [UInt32: (name: [UInt8], watches: [Int32: [UInt8]], batch: Int)] = [:]
    private var batches = 0

    /// What each directory is watched for: every change E2B reports, never following a symlink below
    /// the root, and nothing for a file already unlinked (a deleted log still being written).
    private static let mask: Inotify.Mask = [
        .create, .delete, .modify, .attributes, .movedFrom, .movedTo, .deleteSelf, .moveSelf, .onlyDirectory, .excludeUnlinked,
    ]

    /// Starts watching `path` (a directory; a final symlink is followed) and, when `recursive`, the
    /// directories below it.
    init(path: String, recursive: Bool) throws(WireErrorMessage) {
        do { fd = try Inotify.make() } catch { throw Self.failure(error, path) }
        root = Array(path.utf8)
        self.recursive = recursive
        do { rootWatch = try Inotify.addWatch(fd, path: root, mask: Self.mask) } catch {
            fd.close()
            throw Self.failure(error, path)
        }
        directories[rootWatch] = []
        guard recursive else { return }
        do { _ = try watchBelow([], reporting: false) } catch {
            fd.close()
            throw error
        }
    }

    func close() { fd.close() }

    /// E2B's events for what the kernel reported, and whether the watch is over (the watched
    /// directory was deleted or unmounted). Lost events (the kernel's queue overflowed) are
    /// `resource_exhausted`: a consumer must not believe it saw every change.
    func translate(_ events: [Inotify.Event]) throws(WireErrorMessage) -> (events: [WatchEvent], ended: Bool) {
        batches += 1
        defer { forgetMovedAway(before: batches) }
        var out: [WatchEvent] = []
        for event in events {
            if event.mask.contains(.overflow) {
                let message = "the watch on \(rootName) fell behind and lost events (the inotify queue overflowed)"
                throw WireErrorMessage(code: .resourceExhausted, message: message)
            }
            guard let directory = directories[event.watch] else { continue }  // let go of, or moved away
            if event.mask.contains(.ignored) {
                directories[event.watch] = nil
                if event.watch == rootWatch { return (out, true) }
                continue
            }
            // A directory's own deletion or move is reported by its parent (the root's ends the watch).
            guard !event.name.isEmpty else { continue }
            let name = directory.isEmpty ? event.name : directory + [UInt8(ascii: "/")] + event.name
            let subdirectory = recursive && event.mask.contains(.isDirectory)
            if event.mask.contains(.create) {
                out.append(WatchEvent(kind: .create, name: Self.text(name)))
                // What a new directory already holds was made before its watch: reported as made too.
                if subdirectory { out += try watch(name, reporting: true) }
            } else if event.mask.contains(.movedTo) {
                out.append(WatchEvent(kind: .create, name: Self.text(name)))
                if subdirectory { try arrived(name, cookie: event.cookie) }
            } else if event.mask.contains(.delete) {
                out.append(WatchEvent(kind: .remove, name: Self.text(name)))
            } else if event.mask.contains(.modify) {
                out.append(WatchEvent(kind: .write, name: Self.text(name)))
            } else if event.mask.contains(.movedFrom) {
                out.append(WatchEvent(kind: .rename, name: Self.text(name)))
                if subdirectory { movedAway[event.cookie] = (name, takeWatches(below: name), batches) }
            } else if event.mask.contains(.attributes) {
                out.append(WatchEvent(kind: .chmod, name: Self.text(name)))
            }
        }
        return (out, false)
    }

    /// A directory moved in as `name`: the watches it had under its old name in this tree, renamed;
    /// from outside the tree, watched afresh.
    private func arrived(_ name: [UInt8], cookie: UInt32) throws(WireErrorMessage) {
        guard let moved = movedAway.removeValue(forKey: cookie) else {
            _ = try watch(name, reporting: false)
            return
        }
        for (watch, directory) in moved.watches { directories[watch] = name + directory.dropFirst(moved.name.count) }
    }

    /// Takes the watches of directory `relative` and those below it out of the tree.
    private func takeWatches(below relative: [UInt8]) -> [Int32: [UInt8]] {
        let prefix = relative + [UInt8(ascii: "/")]
        let taken = directories.filter { $0.value == relative || $0.value.starts(with: prefix) }
        for watch in taken.keys { directories[watch] = nil }
        return taken
    }

    /// Removes the watches of directories moved away before batch `current` and not back since.
    private func forgetMovedAway(before current: Int) {
        for (cookie, moved) in movedAway where moved.batch < current {
            movedAway[cookie] = nil
            for watch in moved.watches.keys { Inotify.removeWatch(fd, watch) }
        }
    }

    private var rootName: String { Self.text(root) }

    /// Watches directory `relative` and everything below it; with `reporting`, a `create` for each
    /// entry found. A directory gone meanwhile is skipped.
    private func watch(_ relative: [UInt8], reporting: Bool) throws(WireErrorMessage) -> [WatchEvent] {
        let watch: Int32
        do { watch = try Inotify.addWatch(fd, path: root + [UInt8(ascii: "/")] + relative, mask: Self.mask.union(.doNotFollow)) } catch {
            if error.rawValue == ENOENT || error.rawValue == ENOTDIR || error.rawValue == ELOOP { return [] }
            throw Self.failure(error, Self.text(root + [UInt8(ascii: "/")] + relative))
        }
        // The same directory reached twice (a bind mount inside the tree): one watch, one walk.
        guard directories[watch] == nil else { return [] }
        directories[watch] = relative
        return try watchBelow(relative, reporting: reporting)
    }

    /// Watches the directories inside `relative` (recursively); with `reporting`, a `create` for each
    /// entry found.
    private func watchBelow(_ relative: [UInt8], reporting: Bool) throws(WireErrorMessage) -> [WatchEvent] {
        var out: [WatchEvent] = []
        // The root was named by the caller, so a symlink to a directory counts; none below it does.
        let path = relative.isEmpty ? root : root + [UInt8(ascii: "/")] + relative
        for (name, isDirectory) in Self.entries(path, following: relative.isEmpty) {
            let child = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            if reporting { out.append(WatchEvent(kind: .create, name: Self.text(child))) }
            if isDirectory { out += try watch(child, reporting: reporting) }
        }
        return out
    }

    /// The entries of directory `path` and whether each is a directory (an entry that is a symlink is
    /// not); nothing when it cannot be read (gone meanwhile). `following`: `path` may be a symlink.
    private static func entries(_ path: [UInt8], following: Bool) -> [(name: [UInt8], isDirectory: Bool)] {
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_RDONLY | O_DIRECTORY | O_CLOEXEC | (following ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        let names = (try? GuestFile.entryNames(in: fd)) ?? []
        return names.map { name in
            var st = stat()
            let isDirectory = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFDIR
            return (GuestFile.bytes(name), isDirectory)
        }
    }

    /// A name for the host: the guest's bytes as UTF-8 (one that is not UTF-8 gets replacement characters).
    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The wire error for a failed inotify call on `path`.
    private static func failure(_ e: Errno, _ path: String) -> WireErrorMessage {
        switch e.rawValue {
        case ENOTDIR: WireErrorMessage(code: .badRequest, message: "\(path) is not a directory")
        case ENOSPC, EMFILE:
            WireErrorMessage(
                code: .resourceExhausted,
                message: "cannot watch \(path): too many watches in the guest (fs.inotify.max_user_watches, max_user_instances)")
        default: GuestFile.error(e, path)
        }
    }
}
