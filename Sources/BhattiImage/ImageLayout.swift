import Foundation

/// Where everything lives inside an image directory.
///
/// The three boot files and `image.json` are the image; the dot-directories are the builder's
/// working state, kept so the next build can be incremental.
struct ImageLayout: Sendable {
    let directory: String

    /// Relative paths are made absolute: the path is handed to tools running in other directories
    /// (apt-get download, chroot) and compared with mount points.
    init(_ directory: String) {
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        self.directory = absolute.count > 1 && absolute.hasSuffix("/") ? String(absolute.dropLast()) : absolute
    }

    var kernel: String { "\(directory)/vmlinuz" }
    /// The uncompressed ELF kernel (PVH boot), when the bzImage's payload could be extracted.
    var vmlinux: String { "\(directory)/vmlinux" }
    var initramfs: String { "\(directory)/initramfs" }
    var rootfs: String { "\(directory)/rootfs.ext4" }
    /// Written last: its presence marks the image complete.
    var manifest: String { "\(directory)/image.json" }

    /// One file per build step holding the key of its last successful run.
    var stamps: String { "\(directory)/.stamps" }
    /// Downloaded `.deb` files.
    var cache: String { "\(directory)/.cache" }
    /// The unpacked kernel package (modules for the initramfs).
    var kernelTree: String { "\(directory)/.kernel-tree" }
    /// The configured debootstrap tree; a new lohar is copied in and the ext4 image remade from it.
    var rootfsTree: String { "\(directory)/.rootfs-tree" }
    /// Scratch space for compiler output and the like.
    var scratch: String { "\(directory)/.build" }
}
