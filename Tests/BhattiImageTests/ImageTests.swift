import BhattiSystem
import Foundation
import Synchronization
import Testing

@testable import BhattiImage

@Suite struct GuestImageTests {
    static func manifest() -> ImageManifest {
        ImageManifest(
            builtAt: "2025-01-01T00:00:00Z", kernelVersion: "6.1.0-56-cloud-amd64",
            kernelPackage: "linux-image-6.1.0-56-cloud-amd64", kernelPackageVersion: "6.1.192-2",
            kernelPackageSHA256: String(repeating: "a", count: 64), modules: ["virtio_ring", "virtio"],
            initSourceSHA256: String(repeating: "b", count: 64), suite: "bookworm", mirror: "http://deb.debian.org/debian",
            packages: ["bash": "5.2.15-2+b7"], loharSHA256: String(repeating: "c", count: 64),
            files: ["vmlinuz": .init(bytes: 1, sha256: String(repeating: "d", count: 64))])
    }

    @Test func emptyDirectoryIsNotBuiltAndSaysHowToBuild() {
        let dir = TemporaryDirectory("open")
        #expect {
            _ = try GuestImage.open(dir.path)
        } throws: { error in
            guard case ImageError.notBuilt(_, let missing) = error else { return false }
            let text = "\(error)"
            return missing == ["vmlinuz", "initramfs", "rootfs.ext4", "image.json"]
                && text.contains("run `bhatti image build`") && text.contains(dir.path)
        }
    }

    @Test func missingManifestAloneMeansIncomplete() {
        let dir = TemporaryDirectory("open")
        for name in ["vmlinuz", "initramfs", "rootfs.ext4"] { dir.write(name, "x") }
        #expect {
            _ = try GuestImage.open(dir.path)
        } throws: { error in
            guard case ImageError.notBuilt(_, let missing) = error else { return false }
            return missing == ["image.json"]
        }
    }

    @Test func corruptManifestIsReported() {
        let dir = TemporaryDirectory("open")
        for name in ["vmlinuz", "initramfs", "rootfs.ext4"] { dir.write(name, "x") }
        dir.write("image.json", "{ not json")
        #expect {
            _ = try GuestImage.open(dir.path)
        } throws: { error in
            guard case ImageError.corruptManifest = error else { return false }
            return "\(error)".contains("bhatti image build")
        }
    }

    @Test func completeImageOpensWithPathsAndManifest() throws {
        let dir = TemporaryDirectory("open")
        for name in ["vmlinuz", "initramfs", "rootfs.ext4"] { dir.write(name, "x") }
        let manifest = Self.manifest()
        dir.write("image.json", String(decoding: try manifest.encoded(), as: UTF8.self))
        let image = try GuestImage.open(dir.path + "/")
        #expect(image.directory == dir.path)
        #expect(image.kernelPath == "\(dir.path)/vmlinuz")
        #expect(image.initramfsPath == "\(dir.path)/initramfs")
        #expect(image.rootfsPath == "\(dir.path)/rootfs.ext4")
        #expect(image.manifest == manifest)
    }

    @Test func manifestEncodingIsStableAndReadable() throws {
        let bytes = try Self.manifest().encoded()
        #expect(try Self.manifest().encoded() == bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"kernelVersion\" : \"6.1.0-56-cloud-amd64\""))
        #expect(text.contains("\"mirror\" : \"http://deb.debian.org/debian\""))  // slashes unescaped
    }

    @Test func installedPackagesComeFromDpkgStatus() {
        let dir = TemporaryDirectory("dpkg")
        dir.write(
            "var/lib/dpkg/status",
            """
            Package: bash
            Status: install ok installed
            Version: 5.2.15-2+b7
            Description: shell
             continuation line

            Package: removed
            Status: deinstall ok config-files
            Version: 1.0

            """)
        #expect(ImageManifest.installedPackages(tree: dir.path) == ["bash": "5.2.15-2+b7"])
    }

    @Test func rootfsAutoSizeAddsHeadroomAndRounds() {
        let mib: UInt64 = 1 << 20
        // 300 MiB → 390 + 256 = 646 → 704 (next multiple of 64).
        #expect(RootfsStep.autoSize(treeBytes: 300 * mib) == 704 * mib)
        #expect(RootfsStep.autoSize(treeBytes: 0) == 256 * mib)
    }
}

@Suite struct RootfsPermissionTests {
    @Test("the root file system is world-readable even when built under umask 077 (a daemon's)")
    func readableUnderRestrictiveUmask() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/bhatti-rootfs-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = ImageLayout(dir)
        try FileManager.default.createDirectory(atPath: layout.rootfsTree + "/usr/local/bin", withIntermediateDirectories: true)
        let lohar = dir + "/lohar"
        #expect(FileManager.default.createFile(atPath: lohar, contents: Data("#!/bin/sh\n".utf8)))
        let step = RootfsStep.imageStep(
            key: "k", loharSource: lohar, size: 16 << 20, layout: layout,
            runner: CommandRunner(tools: HostTools(searchPath: HostTools.defaultSearchPath)))
        let old = umask(0o077)
        defer { umask(old) }
        try step.run { _ in }
        var st = stat()
        #expect(stat(layout.rootfs, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o644)
    }
}

@Suite struct BusyTextTests {
    @Test("a tool still open for writing somewhere (ETXTBSY) is run once that ends, instead of failing the build")
    func retriesWhileBusy() throws {
        let path = FileManager.default.temporaryDirectory.path + "/bhatti-busy-\(UInt32.random(in: 0...UInt32.max)).sh"
        defer { unlink(path) }
        let writer = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        try #require(writer >= 0)
        let script = Array("#!/bin/sh\nexit 0\n".utf8)
        #expect(write(writer, script, script.count) == script.count)
        let spawn = Spawn(path: path, arguments: [path], environment: [])
        // Open for writing: the kernel refuses to run it.
        #expect(throws: Errno.self) { _ = try spawn.run() }
        // The writer goes away on another thread while the runner retries.
        let closer = Thread {
            usleep(100_000)
            close(writer)
        }
        closer.start()
        let pid = try CommandRunner.run(spawn)
        #expect(try waitForExit(pid: pid) == .exited(0))
    }
}

@Suite struct DescriptorOwnershipTests {
    @Test("writing files atomically never closes a descriptor it does not own (another thread's stays open)")
    func noDoubleClose() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/bhatti-fds-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stop = Mutex(false)
        let lost = Mutex(0)
        // Another thread keeps taking the lowest free numbers and checks they are still its own until it
        // closes them: a second close by the writer would take one away (the old writer closed each
        // number twice, through its FileDescriptor and then by hand).
        let checker = Thread {
            while !stop.withLock({ $0 }) {
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { continue }
                for _ in 0..<50 where fcntl(fds[0], F_GETFD) < 0 || fcntl(fds[1], F_GETFD) < 0 { lost.withLock { $0 += 1 } }
                close(fds[0])
                close(fds[1])
            }
        }
        checker.start()
        for i in 0..<3000 { try FileOps.writeAtomically([UInt8(i & 0xff)], to: dir + "/f\(i % 8)") }
        stop.withLock { $0 = true }
        #expect(lost.withLock { $0 } == 0, "descriptors of another thread were closed under it")
    }
}
