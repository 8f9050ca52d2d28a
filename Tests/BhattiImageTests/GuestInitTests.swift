import Foundation
import Testing

@testable import BhattiImage

/// guest/init.c as the builder compiles it, and the initramfs layout it expects.
@Suite struct GuestInitTests {
    static let source = "\(packageRoot)/guest/init.c"

    @Test func compilesStaticallyWithWarningsAsErrors() throws {
        let dir = TemporaryDirectory("init")
        let runner = CommandRunner(tools: HostTools())
        try runner.output(
            "cc",
            [
                "-static", "-Os", "-s", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", "\(dir.path)/init", Self.source,
            ])
        // Run outside PID 1 it must refuse to do anything (no mounts, no power-off). The directory must
        // outlive the run: ARC may release it after its last use, before the binary is executed.
        try withExtendedLifetime(dir) {
            let result = try runner.run("\(dir.path)/init", [])
            #expect(result.status == 1)
            #expect(result.stderr.contains("must run as PID 1"))
        }
    }

    @Test func initReadsTheOrderFileTheBuilderWrites() throws {
        let text = try String(contentsOfFile: Self.source, encoding: .utf8)
        #expect(text.contains("#define MODULE_DIR \"/\(InitramfsStep.modulesDirectory)\""))
        #expect(text.contains("#define ORDER_FILE MODULE_DIR \"/order\""))
        #expect("\(InitramfsStep.modulesDirectory)/order" == InitramfsStep.orderFile)
        #expect(text.contains("#define DEFAULT_INIT \"/\(RootfsStep.loharPath)\""))
    }

    @Test func archiveHasMountPointsConsoleInitModulesAndOrder() throws {
        let dir = TemporaryDirectory("mods")
        let a = dir.write("virtio_ring.ko", "ring")
        let b = dir.write("virtio.ko", "virtio")
        let archive = try InitramfsStep.archive(initBinary: [0x7F, 0x45], modules: [("virtio_ring", a), ("virtio", b)])
        #expect(
            archive.entries.map(\.path) == [
                "dev", "proc", "sys", "newroot", "lib", "lib/modules", "dev/console", "init",
                "lib/modules/virtio_ring.ko", "lib/modules/virtio.ko", "lib/modules/order",
            ])
        #expect(archive.entries.first { $0.path == "init" }?.permissions == 0o755)
        #expect(archive.entries.last?.kind == .file(Array("virtio_ring\nvirtio\n".utf8)))
        #expect(archive.entries.first { $0.path == "dev/console" }?.kind == .characterDevice(major: 5, minor: 1))
    }
}
