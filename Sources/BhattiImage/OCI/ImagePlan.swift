/// What an archive says to do: its config and its layers in order, each with what it must hash to.
/// Reading it touches only JSON; the layers are streamed later.
struct ImagePlan {
    enum Compression: Equatable { case none, gzip }

    struct Layer {
        var member: String
        var compression: Compression
        /// The blob's digest and size (OCI); a docker archive names none.
        var digest: String?
        var size: UInt64?
        /// The uncompressed tar's digest from the config's `rootfs.diff_ids`.
        var diffID: String?
    }

    var format: ImageArchiveFormat
    var config: OCIDocuments.Config
    var layers: [Layer]

    static func read(_ archive: ArchiveIndex) throws(ImportError) -> ImagePlan {
        if archive.contains("index.json") { return try oci(archive) }
        if archive.contains("manifest.json") { return try docker(archive) }
        throw .notAnImage("\(archive.path) has neither index.json (OCI layout) nor manifest.json (docker save)")
    }

    // MARK: OCI layout

    private static func oci(_ archive: ArchiveIndex) throws(ImportError) -> ImagePlan {
        let index = try OCIDocuments.decode(OCIDocuments.Index.self, archive.read("index.json") ?? [], file: "index.json")
        let manifestDescriptor = try pickManifest(index, archive: archive, depth: 0)
        let manifestName = "manifest \(manifestDescriptor.digest)"
        let manifest = try OCIDocuments.decode(
            OCIDocuments.Manifest.self, try blob(manifestDescriptor, in: archive, what: manifestName), file: manifestName)
        let configName = "config \(manifest.config.digest)"
        let config = try OCIDocuments.decode(
            OCIDocuments.Config.self, try blob(manifest.config, in: archive, what: configName), file: configName)
        let diffIDs = config.rootfs?.diff_ids ?? []
        guard diffIDs.isEmpty || diffIDs.count == manifest.layers.count else {
            throw .malformedJSON(file: configName, detail: "\(diffIDs.count) diff_ids for \(manifest.layers.count) layers")
        }
        var layers: [Layer] = []
        for (i, descriptor) in manifest.layers.enumerated() {
            let hex = try Digest.hex(descriptor.digest, file: manifestName)
            let member = "blobs/sha256/\(hex)"
            guard archive.contains(member) else { throw .missingBlob("\(descriptor.digest) (layer \(i + 1))") }
            layers.append(
                Layer(
                    member: member, compression: try compression(of: descriptor.mediaType ?? ""), digest: descriptor.digest,
                    size: descriptor.size, diffID: diffIDs.isEmpty ? nil : diffIDs[i]))
        }
        return ImagePlan(format: .oci, config: try checkPlatform(config, file: configName), layers: layers)
    }

    /// Follows image indexes down to the linux/amd64 manifest (or the only one, when none names a platform).
    private static func pickManifest(_ index: OCIDocuments.Index, archive: ArchiveIndex, depth: Int) throws(ImportError)
        -> OCIDocuments.Descriptor
    {
        guard depth < 4 else { throw .malformedJSON(file: "index.json", detail: "image indexes nested too deep") }
        let linux = index.manifests.filter { $0.platform.map { $0.os == "linux" && $0.architecture == "amd64" } ?? false }
        let chosen: OCIDocuments.Descriptor
        if let first = linux.first {
            chosen = first
        } else if index.manifests.count == 1, index.manifests[0].platform == nil {
            chosen = index.manifests[0]
        } else if index.manifests.isEmpty {
            throw .notAnImage("index.json lists no manifest")
        } else {
            let platforms = index.manifests.compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
            throw .unsupportedPlatform("no linux/amd64 manifest in the index (it has \(platforms.joined(separator: ", ")))")
        }
        switch chosen.mediaType ?? "" {
        case "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json":
            let name = "index \(chosen.digest)"
            let nested = try OCIDocuments.decode(OCIDocuments.Index.self, try blob(chosen, in: archive, what: name), file: name)
            return try pickManifest(nested, archive: archive, depth: depth + 1)
        case "", "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json":
            return chosen
        case let other:
            throw .unsupportedMediaType(other)
        }
    }

    /// A JSON blob, its size and digest checked.
    private static func blob(_ descriptor: OCIDocuments.Descriptor, in archive: ArchiveIndex, what: String) throws(ImportError) -> [UInt8] {
        let hex = try Digest.hex(descriptor.digest, file: what)
        guard let member = archive.member("blobs/sha256/\(hex)") else { throw .missingBlob("\(descriptor.digest) (\(what))") }
        guard member.size == descriptor.size else { throw .sizeMismatch(what: what, expected: descriptor.size, actual: member.size) }
        let tap = DigestingSource(archive.source(member))
        let bytes = try tap.readAll(limit: 4 << 20, what: what)
        let actual = tap.digest()
        guard actual == descriptor.digest else { throw .digestMismatch(what: what, expected: descriptor.digest, actual: actual) }
        return bytes
    }

    static func compression(of mediaType: String) throws(ImportError) -> Compression {
        switch mediaType {
        case "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.nondistributable.v1.tar":
            return .none
        case "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
            return .gzip
        default:
            throw .unsupportedMediaType(mediaType.isEmpty ? "(a layer without a media type)" : mediaType)
        }
    }

    // MARK: docker save

    private static func docker(_ archive: ArchiveIndex) throws(ImportError) -> ImagePlan {
        let entries = try OCIDocuments.decode([OCIDocuments.DockerEntry].self, archive.read("manifest.json") ?? [], file: "manifest.json")
        guard entries.count == 1 else { throw .notAnImage("manifest.json lists \(entries.count) images; import one at a time") }
        let entry = entries[0]
        guard let configBytes = try archive.read(entry.Config) else { throw .missingBlob("\(entry.Config) (config)") }
        // The config's name is its digest in every docker save layout (<hex>.json, blobs/sha256/<hex>).
        let base = String(entry.Config.split(separator: "/").last ?? "")
        let hex = base.hasSuffix(".json") ? String(base.dropLast(5)) : base
        if hex.utf8.count == 64 {
            let tap = DigestingSource(MemorySource(configBytes))
            try tap.drain()
            let actual = tap.digest()
            guard actual == "sha256:\(hex)" else {
                throw .digestMismatch(what: "config \(entry.Config)", expected: "sha256:\(hex)", actual: actual)
            }
        }
        let config = try OCIDocuments.decode(OCIDocuments.Config.self, configBytes, file: entry.Config)
        let diffIDs = config.rootfs?.diff_ids ?? []
        guard diffIDs.count == entry.Layers.count else {
            throw .malformedJSON(file: entry.Config, detail: "\(diffIDs.count) diff_ids for \(entry.Layers.count) layers")
        }
        var layers: [Layer] = []
        for (i, name) in entry.Layers.enumerated() {
            guard let member = archive.member(name) else { throw .missingBlob("\(name) (layer \(i + 1))") }
            layers.append(Layer(member: name, compression: try sniff(archive, member, name: name), diffID: diffIDs[i]))
        }
        return ImagePlan(format: .docker, config: try checkPlatform(config, file: entry.Config), layers: layers)
    }

    /// docker archives do not say how a layer is compressed; its first bytes do.
    private static func sniff(_ archive: ArchiveIndex, _ member: ArchiveIndex.Member, name: String) throws(ImportError) -> Compression {
        guard let magic = try archive.source(member).readBytes(4, what: name) else { return .none }
        if magic[0] == 0x1F && magic[1] == 0x8B { return .gzip }
        if magic == [0x28, 0xB5, 0x2F, 0xFD] { throw .unsupportedMediaType("zstd-compressed layer \(name)") }
        return .none
    }

    private static func checkPlatform(_ config: OCIDocuments.Config, file: String) throws(ImportError) -> OCIDocuments.Config {
        guard config.os == "linux", config.architecture == "amd64" else {
            throw .unsupportedPlatform("the config says \(config.os ?? "no os")/\(config.architecture ?? "no architecture")")
        }
        return config
    }
}
