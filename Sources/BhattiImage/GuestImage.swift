import Foundation

/// A complete guest image on disk: the files QEMU boots, and what they were built from.
public struct GuestImage: Sendable {
    /// Where `bhatti image build` puts the image unless told otherwise.
    public static let defaultDirectory = "/var/lib/bhatti/images/default"

    /// The image directory.
    public let directory: String
    /// The kernel (bzImage).
    public let kernelPath: String
    /// What to give QEMU's `-kernel`: the uncompressed `vmlinux` when the build extracted one (faster
    /// under TCG), else the bzImage.
    public var bootKernelPath: String {
        let vmlinux = directory + "/vmlinux"
        return FileManager.default.fileExists(atPath: vmlinux) ? vmlinux : kernelPath
    }
    /// The initramfs (newc cpio) for `-initrd`.
    public let initramfsPath: String
    /// The raw ext4 root file system; sandboxes boot qcow2 overlays backed by it.
    public let rootfsPath: String
    /// Its `image.json`.
    public let manifest: ImageManifest

    /// Opens a built image; throws `notBuilt` (telling the user to run `bhatti image build`) when a
    /// file is missing. `image.json` is written last by the builder, so its presence means complete.
    public static func open(_ directory: String) throws(ImageError) -> GuestImage {
        let layout = ImageLayout(directory)
        let required = [layout.kernel, layout.initramfs, layout.rootfs, layout.manifest]
        let missing = required.filter { !FileManager.default.fileExists(atPath: $0) }
            .map { ($0 as NSString).lastPathComponent }
        guard missing.isEmpty else { throw .notBuilt(layout.directory, missing: missing) }
        return GuestImage(
            directory: layout.directory, kernelPath: layout.kernel, initramfsPath: layout.initramfs,
            rootfsPath: layout.rootfs, manifest: try ImageManifest.read(layout.manifest))
    }
}
