import Foundation

/// An image as the API shows it (`GET /v1/images[/{name}]`).
public struct ImageDTO: Codable, Equatable, Sendable {
    public var name: String
    /// `public` (built by the admin: every user sees it) or `private` (its owner's alone).
    public var visibility: String
    /// `build`, `import` or `save`.
    public var source: String
    /// The root file system's size: the smallest `disk_mb` a sandbox of it takes.
    public var diskMB: Int
    public var kernelVersion: String
    /// ISO 8601, UTC; absent when unknown.
    public var createdAt: String?
    public var env: [String: String]
    public var workingDir: String?
    /// How many packages it has; `packages` (name → version) only in `GET /v1/images/{name}`.
    public var packageCount: Int
    public var packages: [String: String]?

    public init(
        name: String, visibility: String, source: String, diskMB: Int, kernelVersion: String, createdAt: String?,
        env: [String: String], workingDir: String?, packageCount: Int, packages: [String: String]?
    ) {
        self.name = name
        self.visibility = visibility
        self.source = source
        self.diskMB = diskMB
        self.kernelVersion = kernelVersion
        self.createdAt = createdAt
        self.env = env
        self.workingDir = workingDir
        self.packageCount = packageCount
        self.packages = packages
    }

    enum CodingKeys: String, CodingKey {
        case name, visibility, source, env, packages
        case diskMB = "disk_mb"
        case kernelVersion = "kernel_version"
        case createdAt = "created_at"
        case workingDir = "working_dir"
        case packageCount = "package_count"
    }
}

/// `POST /v1/sandboxes/{id}/image`: the new image's name.
public struct SaveImageRequest: Codable, Equatable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
    public static let knownFields: Set<String> = ["name"]
}
