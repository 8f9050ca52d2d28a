import BhattiSystem
import CBhattiShim
import Glibc

/// Applies layer tars, in order, to a root directory, with OCI whiteouts, safely as root.
///
/// The rules (docs/images.md has the user's version):
/// - Paths: see `TreePath` (leading `/` dropped, `..` refused).
/// - Nothing is followed: parents are walked with `O_NOFOLLOW` from the root's descriptor, so an entry
///   under a symlink (`evil -> /etc`, then `evil/passwd`) is refused, and the final component is always
///   unlinked and created afresh (`O_EXCL`), never written through.
/// - Symlinks are kept as they are (any target: they are content, followed only inside the guest).
///   Hard links must name an entry already in the tree, found the same way.
/// - Device nodes and FIFOs are not created; their paths are listed in `skipped` (the guest's /dev is
///   devtmpfs).
/// - Owners, modes (setuid, setgid, sticky included) and modification times are the header's. A file
///   is written at 0600, then chowned, then chmodded on its own descriptor, so a setuid bit only ever
///   sits on a complete file owned by the uid its header names. Without root (owners cannot be kept),
///   setuid and setgid are dropped.
/// - Every layer's tar stream counts towards `limit` (headers included, so a million empty files
///   count too); an entry that would pass it throws `.tooLarge` before anything is written.
final class LayerApplier {
    private let tree: RootTree
    private let limit: UInt64
    private let preserveOwners: Bool
    /// Tar bytes read across all layers so far.
    private(set) var unpackedBytes: UInt64 = 0
    /// Paths of device nodes and FIFOs that were not created.
    private(set) var skipped: [String] = []
    private var directoryTimes: [String: Int64] = [:]
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)

    init(root: String, limit: UInt64, preserveOwners: Bool = geteuid() == 0) throws(ImportError) {
        tree = try RootTree(path: root)
        self.limit = limit
        self.preserveOwners = preserveOwners
    }

    deinit { buffer.deallocate() }

    /// Applies one layer's (uncompressed) tar. `layer` numbers it in errors, from 1.
    func apply(_ source: any ByteSource, layer: Int) throws(ImportError) {
        let tar = TarReader(source, what: "layer \(layer)")
        var context = LayerContext(layer: layer)
        let base = unpackedBytes
        while let entry = try tar.next() {
            let (sum, overflow) = (base + tar.position).addingReportingOverflow(entry.size)
            guard !overflow, sum <= limit else { throw .tooLarge(limit: limit) }
            try apply(entry, from: tar, context: &context)
        }
        unpackedBytes = base + tar.position
    }

    /// Sets directories' modification times, which creating their children changed. Call after the last layer.
    func finish() {
        for (path, mtime) in directoryTimes {
            guard case .success(let components) = TreePath.components(path),
                let fd = try? tree.openDirectory(components[...], create: false)
            else { continue }
            var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
            futimens(fd.rawValue, &times)
        }
    }

    /// What one layer has written so far: a whiteout only hides what lower layers put there.
    private struct LayerContext {
        let layer: Int
        var written: Set<String> = []
    }

    private func apply(_ entry: TarEntry, from tar: TarReader, context: inout LayerContext) throws(ImportError) {
        let layer = context.layer
        let components: [String]
        switch TreePath.components(entry.path) {
        case .success(let c): components = c
        case .failure(let refusal): throw .unsafeEntry(layer: layer, path: entry.path, reason: refusal.description)
        }
        guard let name = components.last else {
            // The root itself ("./"): its owner, mode and time, nothing else.
            if entry.kind == .directory { try setMetadata(tree.root, entry, layer: layer, directoryPath: "") }
            return
        }
        let path = components.joined(separator: "/")
        let parentPath = components.dropLast().joined(separator: "/")
        if name.hasPrefix(".wh.") {
            // A whiteout under a directory no layer made hides nothing.
            let parent: FileDescriptor
            do { parent = try tree.openDirectory(components.dropLast(), create: false) } catch {
                if case .errno(_, let errno) = error, errno == .noEntry { return }
                throw treeFailure(error, entry: entry, layer: layer)
            }
            try whiteout(String(name.dropFirst(4)), in: parent, parentPath: parentPath, entry: entry, context: context)
            return
        }
        let parent = try openParent(components.dropLast(), entry: entry, layer: layer)
        context.written.insert(path)
        switch entry.kind {
        case .directory:
            if let st = tree.status(parent, name), st.st_mode & S_IFMT == S_IFDIR {
                // An existing directory is kept, with its lower layers' contents, and takes the new metadata.
            } else {
                try removeExisting(name, in: parent, path: path, layer: layer)
                try check(mkdirat(parent.rawValue, name, 0o700), "mkdir", path, layer)
            }
            let fd = openat(parent.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            try check(fd, "open", path, layer)
            try setMetadata(FileDescriptor(rawValue: fd), entry, layer: layer, directoryPath: path)
        case .file:
            try removeExisting(name, in: parent, path: path, layer: layer)
            let raw = openat(parent.rawValue, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            try check(raw, "create", path, layer)
            let fd = FileDescriptor(rawValue: raw)
            try copyData(from: tar, to: fd, path: path, layer: layer)
            try setMetadata(fd, entry, layer: layer, directoryPath: nil)
        case .symlink:
            try removeExisting(name, in: parent, path: path, layer: layer)
            guard !entry.linkTarget.isEmpty else { throw .unsafeEntry(layer: layer, path: path, reason: "a symlink with an empty target") }
            try check(symlinkat(entry.linkTarget, parent.rawValue, name), "symlink", path, layer)
            if preserveOwners {
                try check(fchownat(parent.rawValue, name, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW), "chown", path, layer)
            }
            var times = Self.times(entry.mtime)
            try check(utimensat(parent.rawValue, name, &times, AT_SYMLINK_NOFOLLOW), "set times of", path, layer)
        case .hardlink:
            try hardlink(entry, name: name, in: parent, path: path, layer: layer)
        case .characterDevice, .blockDevice, .fifo:
            // Not made; a lower layer's file at this path is still replaced by nothing.
            try removeExisting(name, in: parent, path: path, layer: layer)
            skipped.append(path)
        }
    }

    private func whiteout(
        _ target: String, in parent: FileDescriptor, parentPath: String, entry: TarEntry, context: LayerContext
    ) throws(ImportError) {
        let layer = context.layer
        if target == ".wh..opq" {
            // Opaque directory: everything lower layers put in it goes; what this layer wrote stays.
            let written = context.written
            do { try tree.removeChildren(of: parent, path: parentPath, keeping: { written.contains($0) }) } catch {
                throw treeFailure(error, entry: entry, layer: layer)
            }
            return
        }
        // Other `.wh..wh.` names are aufs bookkeeping (hard-link dirs), not whiteouts.
        if target.hasPrefix(".wh.") { return }
        guard !target.isEmpty, target != ".", target != ".." else {
            throw .unsafeEntry(layer: layer, path: entry.path, reason: "a whiteout of '\(target)'")
        }
        let path = parentPath.isEmpty ? target : "\(parentPath)/\(target)"
        guard !context.written.contains(path) else { return }
        do { try tree.remove(parent, target, path: path) } catch { throw treeFailure(error, entry: entry, layer: layer) }
    }

    private func hardlink(_ entry: TarEntry, name: String, in parent: FileDescriptor, path: String, layer: Int) throws(ImportError) {
        let target: [String]
        switch TreePath.components(entry.linkTarget) {
        case .success(let c) where !c.isEmpty: target = c
        case .success: throw .unsafeEntry(layer: layer, path: path, reason: "a hard link to the root")
        case .failure(let refusal): throw .unsafeEntry(layer: layer, path: path, reason: "a hard link to \(refusal.description)")
        }
        if target.joined(separator: "/") == path { return }
        let targetParent: FileDescriptor
        do { targetParent = try tree.openDirectory(target.dropLast(), create: false) } catch {
            throw .unsafeEntry(layer: layer, path: path, reason: "hard link target \(entry.linkTarget) is not in the image")
        }
        guard let st = tree.status(targetParent, target.last!), st.st_mode & S_IFMT != S_IFDIR else {
            throw .unsafeEntry(layer: layer, path: path, reason: "hard link target \(entry.linkTarget) is not a file in the image")
        }
        try removeExisting(name, in: parent, path: path, layer: layer)
        // Flags 0: a symlink target is linked as the symlink itself, never followed.
        try check(linkat(targetParent.rawValue, target.last!, parent.rawValue, name, 0), "link", path, layer)
    }

    private func openParent(_ components: ArraySlice<String>, entry: TarEntry, layer: Int) throws(ImportError) -> FileDescriptor {
        do { return try tree.openDirectory(components, create: true) } catch { throw treeFailure(error, entry: entry, layer: layer) }
    }

    private func removeExisting(_ name: String, in parent: FileDescriptor, path: String, layer: Int) throws(ImportError) {
        do { try tree.remove(parent, name, path: path) } catch { throw treeFailure(error, path: path, layer: layer) }
    }

    private func copyData(from tar: TarReader, to fd: FileDescriptor, path: String, layer: Int) throws(ImportError) {
        while true {
            let n = try tar.read(into: buffer)
            if n == 0 { return }
            do { try fd.writeAllFile(UnsafeRawBufferPointer(rebasing: buffer[..<n])) } catch {
                throw .io("layer \(layer): cannot write \(path)", underlying: error)
            }
        }
    }

    /// Owner, then mode (chown clears setuid, so the order matters), then times; a directory's time is
    /// set in `finish`, after its children.
    private func setMetadata(_ fd: FileDescriptor, _ entry: TarEntry, layer: Int, directoryPath: String?) throws(ImportError) {
        var mode = entry.mode & 0o7777
        if preserveOwners {
            try check(fchown(fd.rawValue, entry.uid, entry.gid), "chown", entry.path, layer)
        } else {
            mode &= ~UInt32(S_ISUID | S_ISGID)
        }
        try check(fchmod(fd.rawValue, mode_t(mode)), "chmod", entry.path, layer)
        for (name, value) in entry.xattrs where Self.keptXattr(name) {
            // A file system without xattrs loses capabilities, not the import.
            _ = value.withUnsafeBytes { bh_fsetxattr(fd.rawValue, name, $0.baseAddress, $0.count) }
        }
        if let directoryPath {
            directoryTimes[directoryPath] = entry.mtime
        } else {
            var times = Self.times(entry.mtime)
            try check(futimens(fd.rawValue, &times), "set times of", entry.path, layer)
        }
    }

    /// File capabilities (ping's cap_net_raw) and user attributes; never `trusted.*` or SELinux labels,
    /// which would grant or claim something on the host.
    static func keptXattr(_ name: String) -> Bool { name == "security.capability" || name.hasPrefix("user.") }

    private static func times(_ mtime: Int64) -> [timespec] {
        [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
    }

    private func check(_ result: Int32, _ action: String, _ path: String, _ layer: Int) throws(ImportError) {
        if result < 0 { throw .io("layer \(layer): cannot \(action) \(path)", underlying: Errno.current) }
    }

    private func treeFailure(_ error: TreeError, entry: TarEntry, layer: Int) -> ImportError {
        treeFailure(error, path: entry.path, layer: layer)
    }

    private func treeFailure(_ error: TreeError, path: String, layer: Int) -> ImportError {
        switch error {
        case .notDirectory(let prefix):
            return .unsafeEntry(layer: layer, path: path, reason: "\(prefix) is a symlink or a file, not a directory to write into")
        case .errno(let at, let errno):
            return .io("layer \(layer): \(at.isEmpty ? path : at)", underlying: errno)
        }
    }
}
