import BhattiSystem
import Glibc

/// A directory tree reached only through descriptors: every path is walked one component at a time
/// from the root's descriptor with `O_NOFOLLOW`, so no symlink in the tree (however hostile) is ever
/// followed and nothing outside the root can be named. Paths are relative components, already checked
/// by `TreePath`.
final class RootTree {
    let root: FileDescriptor
    let rootPath: String

    init(path: String) throws(ImportError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path)", underlying: Errno.current) }
        root = FileDescriptor(rawValue: fd)
        rootPath = path
    }

    /// The directory `components` names, opened without following symlinks. With `create`, missing
    /// directories are made (0755, root-owned, as an image's implied parents are). A symlink or a
    /// non-directory on the way throws `.notDirectory(prefix)`.
    func openDirectory(_ components: ArraySlice<String>, create: Bool) throws(TreeError) -> FileDescriptor {
        var current = root
        var walked: [String] = []
        for name in components {
            walked.append(name)
            var fd = openat(current.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 && errno == ENOENT && create {
                if mkdirat(current.rawValue, name, 0o755) != 0 && errno != EEXIST {
                    throw .errno(walked.joined(separator: "/"), Errno.current)
                }
                fd = openat(current.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if fd < 0 {
                let error = Errno.current
                // ELOOP: a symlink where a directory must be; ENOTDIR: a file there.
                if error.rawValue == ELOOP || error.rawValue == ENOTDIR { throw .notDirectory(walked.joined(separator: "/")) }
                throw .errno(walked.joined(separator: "/"), error)
            }
            current = FileDescriptor(rawValue: fd)
        }
        return current
    }

    /// `lstat` of `name` in `directory`; nil when absent.
    func status(_ directory: FileDescriptor, _ name: String) -> stat? {
        var st = stat()
        return fstatat(directory.rawValue, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    /// Removes `name` in `directory` and, for a directory, everything below it, without following
    /// a symlink anywhere. Absent is fine.
    func remove(_ directory: FileDescriptor, _ name: String, keeping keep: ((String) -> Bool)? = nil, path: String = "")
        throws(TreeError)
    {
        guard let st = status(directory, name) else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            let child = openat(directory.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw .errno(path, Errno.current) }
            let childFD = FileDescriptor(rawValue: child)
            try removeChildren(of: childFD, path: path, keeping: keep)
            if keep != nil { return }
            guard unlinkat(directory.rawValue, name, AT_REMOVEDIR) == 0 else { throw .errno(path, Errno.current) }
        } else {
            guard unlinkat(directory.rawValue, name, 0) == 0 || errno == ENOENT else { throw .errno(path, Errno.current) }
        }
    }

    /// Removes every child of `directory` whose path `keep` does not claim; a kept directory is
    /// descended into, so only what `keep` claims survives below it (an opaque whiteout's rule).
    func removeChildren(of directory: FileDescriptor, path: String, keeping keep: ((String) -> Bool)?) throws(TreeError) {
        for name in try names(in: directory, path: path) {
            let childPath = path.isEmpty ? name : "\(path)/\(name)"
            if let keep, keep(childPath) {
                if let st = status(directory, name), st.st_mode & S_IFMT == S_IFDIR {
                    try remove(directory, name, keeping: keep, path: childPath)
                }
                continue
            }
            try remove(directory, name, path: childPath)
        }
    }

    /// The names in a directory, read through a duplicate of its descriptor.
    func names(in directory: FileDescriptor, path: String) throws(TreeError) -> [String] {
        let dup = fcntl(directory.rawValue, F_DUPFD_CLOEXEC, 0)
        guard dup >= 0, let dir = fdopendir(dup) else {
            let error = Errno.current
            if dup >= 0 { close(dup) }
            throw .errno(path, error)
        }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}

/// A tree operation's failure, before it is given the layer and entry it belongs to.
enum TreeError: Error {
    /// A component that must be a directory is a symlink or a file.
    case notDirectory(String)
    case errno(String, Errno)
}
