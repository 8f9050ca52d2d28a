import Foundation

/// `image.json`: what an image was built from, so a sandbox can record exactly what it booted.
public struct ImageManifest: Codable, Sendable, Equatable {
    /// Size and checksum of one image file.
    public struct File: Codable, Sendable, Equatable {
        public var bytes: UInt64
        public var sha256: String
        public init(bytes: UInt64, sha256: String) {
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    /// Bumped when fields change meaning.
    public var formatVersion: Int
    /// When the newest part of the image was built (ISO 8601, UTC).
    public var builtAt: String
    /// The guest kernel release (`uname -r`), e.g. `6.1.0-56-cloud-amd64`.
    public var kernelVersion: String
    /// The versioned kernel package, e.g. `linux-image-6.1.0-56-cloud-amd64`.
    public var kernelPackage: String
    /// Its Debian version, e.g. `6.1.192-2`.
    public var kernelPackageVersion: String
    /// SHA-256 of the kernel `.deb` (as the archive index lists it).
    public var kernelPackageSHA256: String
    /// Modules in the initramfs, in load order.
    public var modules: [String]
    /// SHA-256 of `guest/init.c`.
    public var initSourceSHA256: String
    /// The Debian suite of the root file system.
    public var suite: String
    /// The mirror debootstrap fetched it from.
    public var mirror: String
    /// Every package installed in the root file system → its version.
    public var packages: [String: String]
    /// SHA-256 of the lohar binary at `/usr/local/bin/lohar`.
    public var loharSHA256: String
    /// `vmlinuz`, `initramfs`, `rootfs.ext4` → size and SHA-256.
    public var files: [String: File]

    public init(
        formatVersion: Int = 1, builtAt: String, kernelVersion: String, kernelPackage: String,
        kernelPackageVersion: String, kernelPackageSHA256: String, modules: [String], initSourceSHA256: String,
        suite: String, mirror: String, packages: [String: String], loharSHA256: String, files: [String: File]
    ) {
        self.formatVersion = formatVersion
        self.builtAt = builtAt
        self.kernelVersion = kernelVersion
        self.kernelPackage = kernelPackage
        self.kernelPackageVersion = kernelPackageVersion
        self.kernelPackageSHA256 = kernelPackageSHA256
        self.modules = modules
        self.initSourceSHA256 = initSourceSHA256
        self.suite = suite
        self.mirror = mirror
        self.packages = packages
        self.loharSHA256 = loharSHA256
        self.files = files
    }

    /// Pretty, key-sorted JSON: stable bytes for identical content, readable with `cat`.
    public func encoded() throws(ImageError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(self)) + [0x0A] } catch {
            throw .io("cannot encode the image manifest", underlying: error)
        }
    }

    /// Reads `image.json`; `corruptManifest` when it does not decode.
    public static func read(_ path: String) throws(ImageError) -> ImageManifest {
        let bytes = try FileOps.read(path)
        do { return try JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) } catch {
            throw .corruptManifest(path, underlying: error)
        }
    }

    /// Installed packages → versions, from a tree's dpkg status database.
    static func installedPackages(tree: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: "\(tree)/var/lib/dpkg/status", encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for stanza in Deb822.parse(text) where stanza["Status"]?.hasSuffix(" installed") == true {
            if let name = stanza["Package"], let version = stanza["Version"] { result[name] = version }
        }
        return result
    }
}
