/// What can go wrong while building or opening a guest image; every case keeps enough to act on.
public enum ImageError: Error, CustomStringConvertible {
    /// Host tools not found on the search path (tool names; the description adds their Debian packages).
    case missingTools([String])
    /// The builder needs root (debootstrap, chroot, file ownership in the tree).
    case notRoot
    /// An input file the caller named does not exist (`what` says which: "lohar binary", ...).
    case missingInput(what: String, path: String)
    /// Another build holds the image directory's lock.
    case busy(String)
    /// An external command exited non-zero (or died); `output` is the tail of its stdout+stderr.
    case commandFailed(command: String, status: Int32, output: String)
    /// A Debian package the image needs is not in the archive, even after `apt-get update`.
    case packageNotFound(String)
    /// A kernel module the initramfs needs (or one it depends on) is not in the kernel package.
    case moduleNotFound(String)
    /// A kernel package unpacked into an unexpected layout (no vmlinuz, no modules directory...).
    case unexpectedKernelLayout(String)
    /// A file could not be read, written, renamed or removed.
    case io(String, underlying: any Error)
    /// The directory holds no complete image (`missing` names what is absent).
    case notBuilt(String, missing: [String] = [])
    /// `image.json` exists but cannot be decoded.
    case corruptManifest(String, underlying: any Error)

    public var description: String {
        switch self {
        case .missingTools(let tools):
            let packages = HostTools.packages(for: tools)
            return "missing host tools: \(tools.joined(separator: ", ")) (apt-get install \(packages.joined(separator: " ")))"
        case .notRoot:
            return "building a guest image needs root (debootstrap and chroot); run it with sudo"
        case .missingInput(let what, let path):
            return "\(what) not found at \(path)"
        case .busy(let dir):
            return "another image build is running in \(dir)"
        case .commandFailed(let command, let status, let output):
            let tail = output.isEmpty ? "" : ":\n\(output)"
            return "command failed (exit \(status)): \(command)\(tail)"
        case .packageNotFound(let name):
            return "Debian package \(name) not found in the archive (checked after apt-get update)"
        case .moduleNotFound(let name):
            return "kernel module \(name) not found in the kernel package"
        case .unexpectedKernelLayout(let detail):
            return "unexpected kernel package layout: \(detail)"
        case .io(let what, let underlying):
            return "\(what): \(underlying)"
        case .notBuilt(let dir, let missing):
            let detail = missing.isEmpty ? "" : " (missing \(missing.joined(separator: ", ")))"
            return "no guest image in \(dir)\(detail); run `bhatti image build` to build it"
        case .corruptManifest(let path, let underlying):
            return "cannot read image manifest \(path): \(underlying); run `bhatti image build` to rebuild it"
        }
    }
}
