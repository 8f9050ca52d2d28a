import Foundation

/// Builds OCI-layout and docker-save archives from layer tars, with knobs to break them.
struct ArchiveBuilder {
    var layers: [[UInt8]]
    var gzipLayers = true
    var architecture = "amd64"
    var runConfig: [String: Any] = [
        "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "WorkingDir": "/srv", "User": "1000:1000", "Cmd": ["/bin/sh"],
    ]
    /// Layer media type override (e.g. zstd).
    var layerMediaType: String?

    private var blobs: [(hex: String, bytes: [UInt8])] = []

    init(layers: [[UInt8]]) { self.layers = layers }

    private func config() -> [UInt8] {
        json([
            "architecture": architecture, "os": "linux", "config": runConfig,
            "rootfs": ["type": "layers", "diff_ids": layers.map { "sha256:" + sha256Hex($0) }],
        ])
    }

    /// An OCI image layout tar. `mutate` may change the blobs (by hex) before they are written.
    func oci(index wrap: Bool = false, dropBlob: String? = nil, mutate: (inout [String: [UInt8]]) -> Void = { _ in }) -> (
        archive: [UInt8], layerDigests: [String]
    ) {
        var blobs: [String: [UInt8]] = [:]
        func add(_ bytes: [UInt8]) -> [String: Any] {
            let hex = sha256Hex(bytes)
            blobs[hex] = bytes
            return ["digest": "sha256:\(hex)", "size": bytes.count]
        }
        var configDescriptor = add(config())
        configDescriptor["mediaType"] = "application/vnd.oci.image.config.v1+json"
        var layerDescriptors: [[String: Any]] = []
        for layer in layers {
            var d = add(gzipLayers ? gzip(layer) : layer)
            d["mediaType"] =
                layerMediaType ?? (gzipLayers ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar")
            layerDescriptors.append(d)
        }
        var manifest = add(
            json([
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": configDescriptor,
                "layers": layerDescriptors,
            ]))
        manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        manifest["platform"] = ["architecture": architecture, "os": "linux"]
        var top = manifest
        if wrap {
            var other = manifest
            other["platform"] = ["architecture": "arm64", "os": "linux"]
            top = add(json(["schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [other, manifest]]))
            top["mediaType"] = "application/vnd.oci.image.index.v1+json"
        }
        let layerDigests = layerDescriptors.map { $0["digest"] as! String }
        if let dropBlob { blobs[dropBlob] = nil }
        mutate(&blobs)
        var tar = TarWriter()
        tar.file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}")
        tar.file("index.json", json(["schemaVersion": 2, "manifests": [top]]))
        tar.directory("blobs/")
        tar.directory("blobs/sha256/")
        for (hex, bytes) in blobs.sorted(by: { $0.key < $1.key }) { tar.file("blobs/sha256/\(hex)", bytes) }
        return (tar.finished(), layerDigests)
    }

    /// A `docker save` tar in the classic layout (<id>/layer.tar, <hex>.json).
    func docker() -> [UInt8] {
        let config = config()
        let configName = "\(sha256Hex(config)).json"
        var tar = TarWriter()
        var names: [String] = []
        for (i, layer) in layers.enumerated() {
            let id = String(repeating: String(i), count: 64)
            tar.directory("\(id)/")
            tar.file("\(id)/layer.tar", gzipLayers ? gzip(layer) : layer)
            names.append("\(id)/layer.tar")
        }
        tar.file(configName, config)
        tar.file("manifest.json", json([["Config": configName, "RepoTags": ["test:latest"], "Layers": names]]))
        return tar.finished()
    }
}

/// Two layers: the first makes a small tree, the second deletes a file and makes a directory opaque.
func twoLayersWithWhiteouts() -> [[UInt8]] {
    var base = TarWriter()
    base.directory("etc/")
    base.file("etc/hostname", "base\n")
    base.file("etc/deleted", "gone soon\n")
    base.directory("opt/")
    base.directory("opt/app/")
    base.file("opt/app/old", "old\n")
    base.directory("opt/app/sub/")
    base.file("opt/app/sub/older", "older\n")
    base.file("bin/tool", "#!/bin/sh\n", mode: 0o4755, uid: 0)
    var top = TarWriter()
    top.file("etc/.wh.deleted", "")
    top.directory("opt/app/")
    top.file("opt/app/new", "new\n")
    top.file("opt/app/.wh..wh..opq", "")
    top.file("etc/added", "added\n")
    return [base.finished(), top.finished()]
}

func write(_ bytes: [UInt8], to path: String) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

func readText(_ path: String) -> String? { (try? String(contentsOfFile: path, encoding: .utf8)) }

func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}
