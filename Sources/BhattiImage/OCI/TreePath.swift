/// A layer entry's path made relative to the image root, or the reason it is refused.
///
/// Leading `/` and `./` are dropped (as GNU tar and containerd do: `/etc/passwd` in a layer means the
/// image's `/etc/passwd`), as are empty and `.` components. A `..` component anywhere is refused rather
/// than resolved: no tool writes one into a layer, and refusing needs no reasoning about what it would
/// have pointed at.
enum TreePath {
    /// The components of `path`; empty for the root itself (`./`).
    static func components(_ path: String) -> Result<[String], PathRefusal> {
        var out: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return .failure(.dotDot) }
            if part.utf8.contains(0) { return .failure(.nul) }
            out.append(String(part))
        }
        return .success(out)
    }
}

enum PathRefusal: Error, Equatable, CustomStringConvertible {
    case dotDot, nul

    var description: String {
        switch self {
        case .dotDot: return "a path with a '..' component"
        case .nul: return "a path with a NUL byte"
        }
    }
}
