import Foundation
import Testing

@testable import BhattiImage

/// Whole archives: both formats, their checks, and that a failure leaves no directory behind.
@Suite("Image archives (OCI layout, docker save)")
struct ImageArchiveTests {
    private func importing(_ bytes: [UInt8], options: ImportOptions = ImportOptions()) throws -> (TemporaryDirectory, ImportedImage) {
        let dir = TemporaryDirectory("archive")
        write(bytes, to: dir.path + "/image.tar")
        do {
            let image = try ImageArchive.importArchive(at: dir.path + "/image.tar", into: dir.path + "/rootfs", options: options)
            return (dir, image)
        } catch {
            // No half-made tree: neither the destination nor a temporary sibling.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["image.tar"])
            throw error
        }
    }

    private func expectFailure(_ bytes: [UInt8], _ matches: @escaping (ImportError) -> Bool) {
        #expect {
            try importing(bytes)
        } throws: { error in
            guard let error = error as? ImportError else { return false }
            #expect(error.isInvalidArchive)
            return matches(error)
        }
    }

    private func checkTree(_ root: String) {
        #expect(readText(root + "/etc/hostname") == "base\n")
        #expect(lstatOf(root + "/etc/deleted") == nil)
        #expect(try! FileManager.default.contentsOfDirectory(atPath: root + "/opt/app") == ["new"])
        #expect(((lstatOf(root + "/bin/tool")?.st_mode ?? 0) & 0o7777) == 0o4755)
    }

    @Test("an OCI layout with gzip layers: the tree, the defaults, the diff ids, progress")
    func oci() throws {
        let layers = twoLayersWithWhiteouts()
        let dir = TemporaryDirectory("archive")
        write(ArchiveBuilder(layers: layers).oci().archive, to: dir.path + "/image.tar")
        var reports: [ImportProgress] = []
        let image = try ImageArchive.importArchive(at: dir.path + "/image.tar", into: dir.path + "/rootfs") { reports.append($0) }
        checkTree(dir.path + "/rootfs")
        #expect(image.format == .oci)
        #expect(
            image.defaults
                == ImageDefaults(env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], workingDir: "/srv", user: "1000:1000", cmd: ["/bin/sh"]))
        #expect(image.diffIDs == layers.map { "sha256:" + sha256Hex($0) })
        #expect(reports.last?.layersDone == 2 && reports.last?.layerCount == 2)
        #expect(reports.last?.bytesRead == reports.last?.totalBytes)
    }

    @Test("uncompressed layers, and an image index with several platforms picks linux/amd64")
    func ociIndex() throws {
        var builder = ArchiveBuilder(layers: twoLayersWithWhiteouts())
        builder.gzipLayers = false
        let (dir, image) = try importing(builder.oci(index: true).archive)
        checkTree(dir.path + "/rootfs")
        #expect(image.format == .oci)
    }

    @Test("a docker save archive")
    func docker() throws {
        let (dir, image) = try importing(ArchiveBuilder(layers: twoLayersWithWhiteouts()).docker())
        checkTree(dir.path + "/rootfs")
        #expect(image.format == .docker && image.defaults.workingDir == "/srv")
    }

    @Test("a missing blob, a tampered layer, a tampered config: errors that say which")
    func integrity() throws {
        let builder = ArchiveBuilder(layers: twoLayersWithWhiteouts())
        let digests = builder.oci().layerDigests
        let second = String(digests[1].dropFirst(7))
        expectFailure(builder.oci(dropBlob: second).archive) { error in
            if case .missingBlob(let name) = error { return name.contains(second) && name.contains("layer 2") }
            return false
        }
        // Same size, one byte changed inside the gzip payload's stored trailer: a digest mismatch.
        let tampered = builder.oci { blobs in
            var bytes = blobs[second]!
            bytes[bytes.count - 5] ^= 0x01
            blobs[second] = bytes
        }
        expectFailure(tampered.archive) { error in
            switch error {
            case .digestMismatch(let what, _, _): return what.contains("layer 2")
            case .corruptLayer(let layer, _): return layer == 2
            default: return false
            }
        }
        // A layer swapped for another: its size no longer matches the descriptor.
        let swapped = builder.oci { blobs in blobs[second] = gzip(TarWriter().finished()) }
        expectFailure(swapped.archive) { error in
            if case .sizeMismatch(let what, _, _) = error { return what.contains("layer 2") }
            return false
        }
        // Same size, one byte of a file's content changed in an uncompressed layer: only the digest tells.
        var plain = builder
        plain.gzipLayers = false
        let plainSecond = String(plain.oci().layerDigests[1].dropFirst(7))
        let edited = plain.oci { blobs in
            var bytes = blobs[plainSecond]!
            // The file content "new\n" (the name "opt/app/new" has no newline after it).
            let needle = Array("new\n".utf8)
            let at = (0..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == needle }!
            bytes[at] = UInt8(ascii: "N")
            blobs[plainSecond] = bytes
        }
        expectFailure(edited.archive) { error in
            if case .digestMismatch(let what, let expected, _) = error { return what.contains("layer 2") && expected.contains(plainSecond) }
            return false
        }
    }

    @Test("not a tar, a truncated archive, not an image, zstd, another architecture")
    func refusals() throws {
        expectFailure(Array("hello, I am a text file, not an archive".utf8) + [UInt8](repeating: 10, count: 1000)) {
            if case .notTar = $0 { return true } else { return false }
        }
        expectFailure(gzip(ArchiveBuilder(layers: []).oci().archive)) { if case .notTar = $0 { return true } else { return false } }
        let whole = ArchiveBuilder(layers: twoLayersWithWhiteouts()).oci().archive
        expectFailure(Array(whole[..<(whole.count - 3000)])) {
            switch $0 {
            case .truncated, .missingBlob: return true
            default: return false
            }
        }
        var plain = TarWriter()
        plain.file("hello.txt", "hi")
        expectFailure(plain.finished()) { if case .notAnImage = $0 { return true } else { return false } }
        var zstd = ArchiveBuilder(layers: twoLayersWithWhiteouts())
        zstd.layerMediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
        expectFailure(zstd.oci().archive) {
            if case .unsupportedMediaType(let type) = $0 { return type.contains("zstd") } else { return false }
        }
        var arm = ArchiveBuilder(layers: twoLayersWithWhiteouts())
        arm.architecture = "arm64"
        expectFailure(arm.oci().archive) { if case .unsupportedPlatform = $0 { return true } else { return false } }
    }

    @Test("a hostile layer or a bomb inside a valid archive fails the import and leaves nothing")
    func hostileInsideArchive() throws {
        var evil = TarWriter()
        evil.file("../../escape", "pwned")
        expectFailure(ArchiveBuilder(layers: [evil.finished()]).oci().archive) {
            if case .unsafeEntry = $0 { return true } else { return false }
        }
        var big = TarWriter()
        big.file("zeros", [UInt8](repeating: 0, count: 2 << 20))
        #expect {
            try importing(ArchiveBuilder(layers: [big.finished()]).oci().archive, options: ImportOptions(maximumUnpackedBytes: 1 << 20))
        } throws: { if case .tooLarge = $0 as? ImportError { return true } else { return false } }
    }
}
