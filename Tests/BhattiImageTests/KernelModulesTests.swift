import Testing

@testable import BhattiImage

@Suite struct KernelModulesTests {
    /// A minimal ELF64 little-endian object: sections null, .shstrtab, .modinfo.
    static func elf(modinfo: String) -> [UInt8] {
        func le(_ value: Int, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8((value >> ($0 * 8)) & 0xFF) } }
        let shstrtab = Array("\0.shstrtab\0.modinfo\0".utf8)
        let info = Array(modinfo.utf8)
        let shstrtabOffset = 64
        let infoOffset = shstrtabOffset + shstrtab.count
        let shoff = (infoOffset + info.count + 7) / 8 * 8

        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<8, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])
        header.replaceSubrange(0x28..<0x30, with: le(shoff, 8))
        header.replaceSubrange(0x3A..<0x3C, with: le(64, 2))
        header.replaceSubrange(0x3C..<0x3E, with: le(3, 2))
        header.replaceSubrange(0x3E..<0x40, with: le(1, 2))

        func section(name: Int, offset: Int, size: Int) -> [UInt8] {
            var s = [UInt8](repeating: 0, count: 64)
            s.replaceSubrange(0..<4, with: le(name, 4))
            s.replaceSubrange(24..<32, with: le(offset, 8))
            s.replaceSubrange(32..<40, with: le(size, 8))
            return s
        }
        var out = header + shstrtab + info
        out += [UInt8](repeating: 0, count: shoff - out.count)
        out += section(name: 0, offset: 0, size: 0)
        out += section(name: 1, offset: shstrtabOffset, size: shstrtab.count)
        out += section(name: 11, offset: infoOffset, size: info.count)
        return out
    }

    @Test func readsDependsFromTheModinfoSection() throws {
        let bytes = Self.elf(modinfo: "license=GPL\0depends=virtio,virtio_ring\0alias=a\0alias=b\0name=virtio_blk\0")
        let info = try KernelModules.modinfo(bytes)
        #expect(info["name"] == ["virtio_blk"])
        #expect(info["alias"] == ["a", "b"])
        #expect(KernelModules.dependencies(info) == ["virtio", "virtio_ring"])
    }

    @Test func emptyDependsMeansNone() throws {
        let info = try KernelModules.modinfo(Self.elf(modinfo: "depends=\0name=virtio_ring\0"))
        #expect(KernelModules.dependencies(info).isEmpty)
    }

    @Test func rejectsNonElfInput() {
        #expect(throws: ImageError.self) { try KernelModules.modinfo(Array("not an elf file at all".utf8)) }
        #expect(throws: ImageError.self) { try KernelModules.modinfo([UInt8](repeating: 0, count: 100)) }
    }

    /// The dependency table of Debian's 6.1 cloud kernel (read from its .modinfo sections).
    static let debian61: [String: [String]] = [
        "virtio_ring": [], "virtio": ["virtio_ring"], "virtio_mmio": ["virtio", "virtio_ring"],
        "virtio_blk": ["virtio", "virtio_ring"], "failover": [], "net_failover": ["failover"],
        "virtio_net": ["virtio_ring", "virtio", "net_failover"], "virtio_console": ["virtio", "virtio_ring"],
    ]

    @Test func loadOrderPutsDependenciesFirst() throws {
        let order = try KernelModules.loadOrder(ImageBuildOptions.defaultModules) { (name: String) throws(ImageError) in
            guard let deps = Self.debian61[name] else { throw .moduleNotFound(name) }
            return deps
        }
        #expect(
            order == [
                "virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "failover", "net_failover", "virtio_net",
                "virtio_console",
            ])
    }

    @Test func unknownModuleIsNamed() {
        #expect {
            _ = try KernelModules.loadOrder(["virtio_blk", "nope"]) { (name: String) throws(ImageError) in
                guard let deps = Self.debian61[name] else { throw .moduleNotFound(name) }
                return deps
            }
        } throws: { error in
            "\(error)".contains("kernel module nope not found")
        }
    }

    @Test func cycleIsRejected() {
        #expect(throws: ImageError.self) {
            try KernelModules.loadOrder(["a"]) { (name: String) throws(ImageError) in name == "a" ? ["b"] : ["a"] }
        }
    }

    @Test func moduleNamesComeFromFileNames() {
        #expect(KernelModules.name(ofFile: "kernel/drivers/char/hw_random/virtio-rng.ko") == "virtio_rng")
        #expect(KernelModules.name(ofFile: "/x/virtio_blk.ko.xz") == "virtio_blk")
        #expect(KernelModules.name(ofFile: "net_failover.ko.zst") == "net_failover")
    }
}
