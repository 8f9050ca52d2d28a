public import BhattiImage
public import Foundation

/// One registered image: its name, its directory (the builder's files and `image.json`) and the
/// registry's own facts about it (`registry.json`: who owns it, where it came from).
public struct ImageEntry: Sendable {
    public var name: String
    public var directory: String
    /// The owning user's id; nil for an image the admin built, which every user sees.
    public var owner: String?
    /// How it came to be: `build` (the builder's, or the daemon's `--image-dir`), `import`, `save`.
    public var source: String
    public var createdAt: Date?
    /// The environment and working directory its commands start with (from an import or a save).
    public var env: [String: String]
    public var workingDirectory: String?
    /// Who its commands run as (an import's `User`); nil: `lohar`.
    public var user: String?
    /// The built image: kernel, initramfs, rootfs and what they were made from.
    public var image: GuestImage

    /// Public images are seen by everyone; a private one only by its owner. Anyone else is told it
    /// does not exist, exactly as for a missing one.
    public func isVisible(to user: String) -> Bool { owner == nil || owner == user }

    /// The root file system's size in MiB, rounded up: the smallest disk a sandbox of it can have.
    public var diskMB: Int {
        image.manifest.files["rootfs.ext4"].map { Int(($0.bytes + (1 << 20) - 1) >> 20) } ?? 0
    }
}

/// `registry.json` beside an image's `image.json`: what the registry knows that the builder does not.
/// An image directory without one is the admin's, built with `bhatti image build --out`.
public struct RegistryManifest: Codable, Sendable, Equatable {
    public var owner: String?
    public var source: String
    public var createdAt: String?
    public var env: [String: String]?
    public var workingDir: String?
    /// An import's `User`, as its config gives it.
    public var user: String?
    /// For a `save`: the name of the sandbox whose disk it is.
    public var sandbox: String?
    /// The packages a recipe asked for (`bhatti image build NAME`); what is installed is `image.json`'s.
    public var packages: [String]?

    public init(
        owner: String? = nil, source: String, createdAt: String? = nil, env: [String: String]? = nil, workingDir: String? = nil,
        user: String? = nil, sandbox: String? = nil, packages: [String]? = nil
    ) {
        self.user = user
        self.packages = packages
        self.owner = owner
        self.sandbox = sandbox
        self.source = source
        self.createdAt = createdAt
        self.env = env
        self.workingDir = workingDir
    }

    enum CodingKeys: String, CodingKey {
        case owner, source, env, user, sandbox, packages
        case createdAt = "created_at"
        case workingDir = "working_dir"
    }

    public static let fileName = "registry.json"
}
