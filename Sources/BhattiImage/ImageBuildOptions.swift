/// What to build and from what; the defaults give the standard agent image.
public struct ImageBuildOptions: Sendable {
    /// Packages debootstrap adds to `minbase`: what an agent's commands expect to find.
    public static let defaultPackages = [
        "bash", "git", "curl", "ca-certificates", "sudo", "python3", "iproute2", "iputils-ping", "procps", "less", "vim-tiny",
    ]
    /// Drivers the initramfs loads (dependencies are added from the modules' own metadata):
    /// the microvm transport, the root disk, the network and the virtio-serial agent channel.
    public static let defaultModules = ["virtio_mmio", "virtio_blk", "virtio_net", "virtio_console"]

    /// The image directory (created if needed).
    public var outputDirectory: String
    /// The static lohar binary to install at `/usr/local/bin/lohar`.
    public var loharPath: String
    /// `guest/init.c`, compiled into the initramfs's `/init`.
    public var initSourcePath: String
    /// Debian mirror for debootstrap; nil takes the host's apt configuration (else deb.debian.org).
    public var mirror: String?
    /// Debian suite of the root file system.
    public var suite: String = "bookworm"
    /// Kernel metapackage (or an exact `linux-image-<abi>-<flavour>` name).
    public var kernelPackage: String = "linux-image-cloud-amd64"
    /// Packages added to the root file system.
    public var packages: [String] = ImageBuildOptions.defaultPackages
    /// Shell commands run as root in the root file system's chroot after its packages are installed.
    public var setupCommands: [String] = []
    /// Modules loaded by the initramfs.
    public var modules: [String] = ImageBuildOptions.defaultModules
    /// Root file system size in bytes; nil sizes it from the tree (+30 % + 256 MiB).
    public var rootfsSize: UInt64?
    /// The guest's /etc/hostname.
    public var hostname: String = "bhatti"
    /// Where host tools are looked up (tests inject one); nil uses PATH plus the sbin directories.
    public var toolSearchPath: String?

    public init(
        outputDirectory: String, loharPath: String, initSourcePath: String, mirror: String? = nil,
        suite: String = "bookworm"
    ) {
        self.outputDirectory = outputDirectory
        self.loharPath = loharPath
        self.initSourcePath = initSourcePath
        self.mirror = mirror
        self.suite = suite
    }
}
