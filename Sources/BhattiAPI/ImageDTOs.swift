import Foundation

/// An image as the API shows it (`GET /v1/images[/{name}]`).
public struct ImageDTO: Codable, Equatable, Sendable {
    public var name: String
    /// `public` (built by the admin: every user sees it) or `private` (its owner's alone).
    public var visibility: String
    /// `build`, `import` or `save`.
    public var source: String
    /// True for the image a create without `image` boots.
    public var isDefault: Bool
    /// The root file system's size: the smallest `disk_mb` a sandbox of it takes.
    public var diskMB: Int
    public var kernelVersion: String
    /// ISO 8601, UTC; absent when unknown.
    public var createdAt: String?
    public var env: [String: String]
    public var workingDir: String?
    /// Who its commands run as (an import's `User`); absent: `lohar`.
    public var user: String?
    /// How many packages it has; `packages` (name → version) only in `GET /v1/images/{name}`.
    public var packageCount: Int
    public var packages: [String: String]?

    public init(
        name: String, visibility: String, source: String, diskMB: Int, kernelVersion: String, createdAt: String?,
        env: [String: String], workingDir: String?, user: String? = nil, packageCount: Int, packages: [String: String]?,
        isDefault: Bool = false
    ) {
        self.isDefault = isDefault
        self.user = user
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
        case name, visibility, source, env, user, packages
        case isDefault = "default"
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

/// One line of `POST /v1/images/{name}/import` with `Accept: application/x-ndjson`, sent once the
/// upload is in: `progress` (layers being unpacked), `step` (what the import does next), then
/// exactly one `image` (done: the new image) or `error` (the status and message a plain request
/// would have had).
public struct ImportStreamLine: Codable, Equatable, Sendable {
    public var type: String
    public var bytesRead: UInt64?
    public var bytesTotal: UInt64?
    public var layersDone: Int?
    public var layers: Int?
    public var message: String?
    /// For `error`: the HTTP status and error code a plain request would have had.
    public var status: Int?
    public var code: String?
    public var image: ImageDTO?

    public init(
        type: String, bytesRead: UInt64? = nil, bytesTotal: UInt64? = nil, layersDone: Int? = nil, layers: Int? = nil,
        message: String? = nil, status: Int? = nil, code: String? = nil, image: ImageDTO? = nil
    ) {
        self.code = code
        self.type = type
        self.bytesRead = bytesRead
        self.bytesTotal = bytesTotal
        self.layersDone = layersDone
        self.layers = layers
        self.message = message
        self.status = status
        self.image = image
    }

    enum CodingKeys: String, CodingKey {
        case type, layers, message, status, code, image
        case bytesRead = "bytes_read"
        case bytesTotal = "bytes_total"
        case layersDone = "layers_done"
    }
}
