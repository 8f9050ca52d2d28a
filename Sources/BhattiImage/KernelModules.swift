import Foundation

/// Kernel module facts read straight from the `.ko` files of an unpacked kernel package.
///
/// The package ships no `modules.dep` (depmod writes it at install time, and we never install), and
/// the host need not have kmod; so dependencies come from each module's `.modinfo` ELF section.
enum KernelModules {
    /// Module name as the kernel knows it: file name without extension, dashes as underscores.
    static func name(ofFile path: String) -> String {
        var base = (path as NSString).lastPathComponent
        for ext in [".ko.xz", ".ko.zst", ".ko.gz", ".ko"] where base.hasSuffix(ext) {
            base.removeLast(ext.count)
            break
        }
        return base.replacingOccurrences(of: "-", with: "_")
    }

    /// Every module file under `root` (e.g. `.../lib/modules/<kver>/kernel`) by module name.
    static func index(root: String) throws(ImageError) -> [String: String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            throw .unexpectedKernelLayout("cannot list modules under \(root)")
        }
        var found: [String: String] = [:]
        for case let relative as String in walker where relative.contains(".ko") {
            let name = name(ofFile: relative)
            if relative.hasSuffix(".ko") || found[name] == nil { found[name] = "\(root)/\(relative)" }
        }
        return found
    }

    /// The `key=value` strings of an ELF64 little-endian object's `.modinfo` section, grouped by key.
    static func modinfo(_ elf: [UInt8]) throws(ImageError) -> [String: [String]] {
        func u16(_ at: Int) -> Int { Int(elf[at]) | Int(elf[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }
        let bad = ImageError.unexpectedKernelLayout("a kernel module is not an ELF64 little-endian object")
        guard elf.count >= 64, elf[0..<4] == [0x7F, 0x45, 0x4C, 0x46], elf[4] == 2, elf[5] == 1 else { throw bad }
        let shoff = u64(0x28)
        let shentsize = u16(0x3A)
        let shnum = u16(0x3C)
        let shstrndx = u16(0x3E)
        guard shentsize >= 64, shstrndx < shnum, shoff > 0, shoff + shnum * shentsize <= elf.count else { throw bad }

        func section(_ i: Int) -> (name: Int, offset: Int, size: Int) {
            let h = shoff + i * shentsize
            return (u32(h), u64(h + 24), u64(h + 32))
        }
        let names = section(shstrndx)
        for i in 0..<shnum {
            let s = section(i)
            guard names.offset + s.name < elf.count, s.offset + s.size <= elf.count else { throw bad }
            let nameStart = names.offset + s.name
            let nameEnd = elf[nameStart...].firstIndex(of: 0) ?? elf.count
            guard String(decoding: elf[nameStart..<nameEnd], as: UTF8.self) == ".modinfo" else { continue }
            var info: [String: [String]] = [:]
            for chunk in elf[s.offset..<(s.offset + s.size)].split(separator: 0) {
                let text = String(decoding: chunk, as: UTF8.self)
                guard let eq = text.firstIndex(of: "=") else { continue }
                info[String(text[..<eq]), default: []].append(String(text[text.index(after: eq)...]))
            }
            return info
        }
        return [:]
    }

    /// Module names from a `depends=` value ("virtio,virtio_ring"; empty when none).
    static func dependencies(_ info: [String: [String]]) -> [String] {
        (info["depends"] ?? []).flatMap { $0.split(separator: ",").map(String.init) }
    }

    /// `wanted` plus everything they depend on, each after its dependencies, otherwise in the order
    /// asked (a depth-first post-order); throws `moduleNotFound` for an unknown name.
    static func loadOrder(
        _ wanted: [String], dependencies: (String) throws(ImageError) -> [String]
    ) throws(ImageError) -> [String] {
        var order: [String] = []
        var visiting: Set<String> = []
        func visit(_ module: String) throws(ImageError) {
            if order.contains(module) { return }
            // A cycle cannot load at all; the kernel's own depmod rejects it too.
            guard visiting.insert(module).inserted else {
                throw .unexpectedKernelLayout("module dependency cycle through \(module)")
            }
            for dependency in try dependencies(module) { try visit(dependency) }
            visiting.remove(module)
            order.append(module)
        }
        for module in wanted { try visit(module.replacingOccurrences(of: "-", with: "_")) }
        return order
    }
}
