import Foundation

/// The host programs the image builder runs, and the search path it finds them on.
public struct HostTools: Sendable {
    /// Tool → the Debian package that ships it (what `apt-get install` needs).
    public static let required: [(tool: String, package: String)] = [
        ("debootstrap", "debootstrap"),
        ("mkfs.ext4", "e2fsprogs"),
        ("qemu-img", "qemu-utils"),
        ("apt-get", "apt"),
        ("apt-cache", "apt"),
        ("dpkg-deb", "dpkg"),
        ("cc", "gcc"),
        ("chroot", "coreutils"),
        ("sha256sum", "coreutils"),
    ]

    /// Tools needed only sometimes (compressed modules, faster hashing) → their packages.
    static let optional: [(tool: String, package: String)] = [
        ("xz", "xz-utils"), ("zstd", "zstd"), ("gzip", "gzip"), ("openssl", "openssl"),
    ]

    /// Pseudo-tool reported when `cc` exists but cannot link statically (no libc.a).
    public static let staticLibc = "libc.a"

    /// The sbin directories are appended because root's tools (debootstrap, mkfs.ext4, chroot) live
    /// there and a service or `sudo` environment often leaves them off PATH.
    public static var defaultSearchPath: String {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for extra in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] where !dirs.contains(extra) {
            dirs.append(extra)
        }
        return dirs.joined(separator: ":")
    }

    /// Colon-separated directories searched for every tool; also the PATH the tools themselves get.
    public let searchPath: String

    /// Uses `searchPath` exactly as given (tests inject one without the tools).
    public init(searchPath: String = HostTools.defaultSearchPath) {
        self.searchPath = searchPath
    }

    /// The absolute path of an executable named `tool` on the search path, if any.
    public func locate(_ tool: String) -> String? {
        for dir in searchPath.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Required tools that are absent, in table order; includes `libc.a` when cc cannot link statically.
    public func missing() -> [String] {
        var absent: [String] = []
        for (tool, _) in Self.required where locate(tool) == nil { absent.append(tool) }
        if let cc = locate("cc"), !hasStaticLibc(cc: cc) { absent.append(Self.staticLibc) }
        return absent
    }

    /// Throws `missingTools` naming everything absent, so one run tells the user the whole install line.
    public func check() throws(ImageError) {
        let absent = missing()
        if !absent.isEmpty { throw .missingTools(absent) }
    }

    /// The absolute path of `tool`, or `missingTools([tool])`.
    func path(_ tool: String) throws(ImageError) -> String {
        guard let p = locate(tool) else { throw .missingTools([tool]) }
        return p
    }

    /// Debian packages for the given tool names, deduplicated, in first-seen order.
    static func packages(for tools: [String]) -> [String] {
        var result: [String] = []
        for tool in tools {
            let package =
                tool == staticLibc
                ? "libc6-dev"
                : (required + optional).first { $0.tool == tool }?.package ?? tool
            if !result.contains(package) { result.append(package) }
        }
        return result
    }

    /// `cc -print-file-name=libc.a` prints an absolute path only when the file exists.
    private func hasStaticLibc(cc: String) -> Bool {
        guard let out = try? CommandRunner(tools: self).output(cc, ["-print-file-name=libc.a"]) else { return false }
        let path = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") && FileManager.default.fileExists(atPath: path)
    }
}
