import BhattiCLI
import BhattiDaemon
import BhattiImage
import BhattiSystem
import Foundation
import Glibc

/// `bhatti image build NAME`: the builder works in `<data-dir>/images/.build-NAME` (its incremental
/// state: the debootstrap tree, the kernel package, stamps), and only a finished image is renamed into
/// `<data-dir>/images/NAME`. A daemon reading the registry meanwhile sees the previous image or none,
/// never a half-built one.
enum ImagePublish {
    /// The files a published image holds: hard links to the staging directory's (each build step
    /// replaces its outputs by rename, so a link never sees a later build's writes).
    static let bootFiles = ["vmlinuz", "vmlinux", "initramfs", "rootfs.ext4", "image.json"]

    static func stagingDirectory(images: String, name: String) -> String { "\(images)/.build-\(name)" }

    /// A build replaces only what a build made: an image a user imported or saved (names are one
    /// namespace across users) is refused before anything is built, as the daemon refuses an import
    /// of a taken name.
    static func checkReplaceable(images: String, name: String) throws {
        guard let data = FileManager.default.contents(atPath: "\(images)/\(name)/\(RegistryManifest.fileName)") else { return }
        guard let registry = try? JSONDecoder().decode(RegistryManifest.self, from: data) else {
            throw CLIError.failure(
                "image \(name) exists and its \(RegistryManifest.fileName) is unreadable: delete it or pick another name")
        }
        if registry.owner != nil || registry.source == "import" || registry.source == "save" {
            let whose = registry.owner.map { "a private \(registry.source) of user \($0)" } ?? "an \(registry.source)"
            throw CLIError.failure("image \(name) is \(whose), not a build: delete it (`bhatti image delete \(name)`) or pick another name")
        }
    }

    /// Puts the image built in `staging` into `images/name` with `registry` beside it; returns false
    /// (and changes nothing) when the image there already has the same files and registry facts.
    static func publish(staging: String, images: String, name: String, registry: RegistryManifest) throws -> Bool {
        let destination = "\(images)/\(name)"
        if isCurrent(staging: staging, destination: destination, registry: registry) { return false }
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let fresh = "\(images)/.publish-\(name)-\(suffix)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        var published = false
        // Entries moved from the old image into the new one: on failure they go back before the new one is removed.
        var moved: [String] = []
        defer {
            if !published {
                for entry in moved { _ = rename("\(fresh)/\(entry)", "\(destination)/\(entry)") }
                try? fm.removeItem(atPath: fresh)
            }
        }
        // Each sandbox's VMM (not root) reads the image's files, whatever this process's umask.
        guard chmod(fresh, 0o755) == 0 else { throw CLIError.failure("cannot chmod \(fresh): \(Errno.current)") }
        for file in bootFiles where fm.fileExists(atPath: "\(staging)/\(file)") {
            guard link("\(staging)/\(file)", "\(fresh)/\(file)") == 0 else {
                throw CLIError.failure("cannot link \(staging)/\(file) into \(fresh): \(Errno.current)")
            }
        }
        var stamped = registry
        stamped.createdAt = ISO8601DateFormatter().string(from: Date())
        try AtomicFile.write(encode(stamped), to: "\(fresh)/\(RegistryManifest.fileName)", mode: 0o644)
        // Over an older image: what the daemon keeps in it (`bases/`, the files its sandboxes' VMs
        // booted from, pinned by content) moves into the new one; then the old moves aside, the new
        // one in, and the old is removed.
        let old = "\(images)/.old-\(name)-\(suffix)"
        let replacing = fm.fileExists(atPath: destination)
        if replacing {
            let kept = ((try? fm.contentsOfDirectory(atPath: destination)) ?? []).filter {
                !bootFiles.contains($0) && $0 != RegistryManifest.fileName
            }
            for entry in kept {
                guard rename("\(destination)/\(entry)", "\(fresh)/\(entry)") == 0 else {
                    throw CLIError.failure("cannot move \(destination)/\(entry) into the new image: \(Errno.current)")
                }
                moved.append(entry)
            }
            guard rename(destination, old) == 0 else { throw CLIError.failure("cannot move \(destination) aside: \(Errno.current)") }
        }
        guard rename(fresh, destination) == 0 else {
            let error = Errno.current
            if replacing { _ = rename(old, destination) }
            throw CLIError.failure("cannot rename \(fresh) to \(destination): \(error)")
        }
        published = true
        if replacing { try? fm.removeItem(atPath: old) }
        return true
    }

    /// True when `destination` holds exactly the staged image's `image.json` and these registry facts.
    static func isCurrent(staging: String, destination: String, registry: RegistryManifest) -> Bool {
        let fm = FileManager.default
        guard let built = fm.contents(atPath: "\(staging)/image.json"), built == fm.contents(atPath: "\(destination)/image.json"),
            let data = fm.contents(atPath: "\(destination)/\(RegistryManifest.fileName)"),
            var current = try? JSONDecoder().decode(RegistryManifest.self, from: data)
        else { return false }
        current.createdAt = registry.createdAt
        return current == registry
    }

    static func encode(_ registry: RegistryManifest) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(registry))
    }
}
