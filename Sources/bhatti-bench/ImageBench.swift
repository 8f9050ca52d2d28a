import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Glibc

/// Images: importing an oci-archive of a real Debian root (the bench's own guest image's tree, through
/// umoci and skopeo), then create → first exec from the new image, cold and from its template, and
/// the disk one more sandbox of it costs. Each sample imports under a new name, so its first create
/// has no template to use.
struct ImageBench {
    let imageDirectory: String
    let imports: Int
    let cli: String?

    func run() async throws -> (rows: [Samples], note: String) {
        let data = Bench.dataRoot + "/bench-images-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var config = DaemonConfiguration.isolated(dataDirectory: data, imageDirectory: imageDirectory, listen: "127.0.0.1:0")
        config.warmAfter = "off"
        config.coldAfter = "off"
        config.templates = true
        let daemon = try await Daemon.start(config, log: Logger(sink: { _ in }))
        defer { try? FileManager.default.removeItem(atPath: data) }
        do {
            let result = try await samples(daemon, scratch: data + "/archive")
            await daemon.stop()
            return result
        } catch {
            await daemon.stop()
            throw error
        }
    }

    private func samples(_ daemon: Daemon, scratch: String) async throws -> (rows: [Samples], note: String) {
        let api = BenchAPI(daemon)
        log("images: making the archive from \(imageDirectory)/rootfs.ext4")
        let archive = try await Blocking.run { try Self.makeArchive(rootfs: imageDirectory + "/rootfs.ext4", in: scratch) }
        let archiveMiB = Double(fileSize(archive)) / 1_048_576
        var importAPI = Samples(
            String(format: "image import, %.0f MiB oci-archive", archiveMiB),
            how:
                "POST /v1/images/{name}/import streamed from the file (our client): upload, digests, layers applied, lohar added, mkfs.ext4 -d"
        )
        var importCLI = Samples(
            String(format: "image import, %.0f MiB oci-archive, CLI", archiveMiB),
            how: "`bhatti image import NAME FILE`, the process timed whole")
        var cold = Samples(
            "create → first exec, new image, cold", how: "POST /v1/sandboxes with its image (no template yet: a boot) then exec `true`")
        var warm = Samples(
            "create → first exec, new image, template", how: "the same once the image's template is built: copy and restore")
        var overlay: [Double] = []
        var rootfsMiB = 0.0
        for i in 0..<imports {
            let name = "big\(i)"
            log("images: import \(i + 1)/\(imports)")
            if i % 2 == 1, let cli {
                importCLI.add(try await Blocking.run { try runCLI(cli, ["image", "import", name, archive], daemon: daemon) })
            } else {
                importAPI.add(try await importThroughAPI(archive, as: name, api: api))
            }
            cold.add(try await createAndExec("\(name)-a", image: name, api: api))
            let deadline = ContinuousClock.now + .seconds(300)
            let directory = daemon.configuration.dataDirectory + "/images/" + name
            while try await daemon.engine.template(cpus: 1, memoryMB: 512, withCard: false, image: directory) == nil {
                guard ContinuousClock.now < deadline else { throw BenchError("no template for \(name) after 300 s") }
                try await Task.sleep(for: .milliseconds(100))
            }
            warm.add(try await createAndExec("\(name)-b", image: name, api: api))
            for sandbox in ["\(name)-a", "\(name)-b"] {
                let r = try await api.expect(200, "GET", "/v1/sandboxes/\(sandbox)")
                let id = try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body)).id
                let disk = VMPaths(dataDirectory: daemon.configuration.dataDirectory, id: id).disk
                overlay.append(Double(DiskSpace.allocatedBytes(disk)) / 1_048_576)
                try await api.expect(200, "DELETE", "/v1/sandboxes/\(sandbox)")
            }
            rootfsMiB = Double(DiskSpace.allocatedBytes(directory + "/rootfs.ext4")) / 1_048_576
            try await api.expect(200, "DELETE", "/v1/images/\(name)")
        }
        let sorted = overlay.sorted()
        let note = String(
            format:
                "Images: one more sandbox of an imported image costs its disk overlay only, %.1f MiB p50 (%.1f MiB max over %d sandboxes, cold-booted and from the template, after one exec), beside the image's own root file system of %.0f MiB allocated, shared by every sandbox of it. The archive is the bench image's own Debian root in one layer, %.0f MiB compressed.",
            sorted.isEmpty ? .nan : sorted[(sorted.count - 1) / 2], sorted.last ?? .nan, sorted.count, rootfsMiB, archiveMiB)
        return ([importAPI, importCLI, cold, warm].filter { !$0.values.isEmpty }, note)
    }

    private func importThroughAPI(_ archive: String, as name: String, api: BenchAPI) async throws -> Duration {
        let path = APIRoute.importImage(name).path
        return try await timedOnClientThread("import \(name)", expect: 201) {
            let fd = open(archive, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BenchError("cannot open \(archive)") }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            return try api.client.send(method: "POST", path: path, headers: api.headers, length: Int(fileSize(archive))) {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                return n > 0 ? Array(buffer[0..<n]) : nil
            }
        }.time
    }

    private func createAndExec(_ name: String, image: String, api: BenchAPI) async throws -> Duration {
        try await measure {
            try await api.expect(201, "POST", "/v1/sandboxes", "{\"name\":\"\(name)\",\"image\":\"\(image)\",\"cpus\":1,\"memory_mb\":512}")
            try await api.execTrue(name)
        }
    }

    /// An oci-archive of `rootfs`'s tree (debugfs rdump, umoci, skopeo) in `dir`.
    static func makeArchive(rootfs: String, in dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            set -e
            cd \(dir)
            umoci init --layout layout
            umoci new --image layout:t
            umoci unpack --image layout:t bundle
            debugfs -R 'rdump / bundle/rootfs' \(rootfs) 2>/dev/null
            rm -rf bundle/rootfs/lost+found
            umoci repack --image layout:t bundle
            umoci config --image layout:t --config.workingdir /workspace
            skopeo copy --quiet oci:layout:t oci-archive:\(dir)/image.tar
            rm -rf bundle layout
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("making the archive failed (\(p.terminationStatus))") }
        return dir + "/image.tar"
    }

}

func fileSize(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_size) : 0
}
