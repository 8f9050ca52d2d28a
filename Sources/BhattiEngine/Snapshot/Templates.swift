import BhattiImage
import BhattiSystem
import Foundation
import Glibc

/// Template snapshots: one booted, idle VM per image and size, checkpointed to
/// `<data-dir>/templates/<key>/`, so a create copies and restores it instead of booting.
/// The key covers everything the copy depends on: the image's files, the size and the accelerator.
extension Engine {
    /// The template directory for a size under the image in the directory `image`, if one has been built.
    /// `withCard`: whether its VM has a (placeholder) network card, as a networked sandbox needs.
    public func template(cpus: Int, memoryMB: Int, withCard: Bool = false, image: String) throws -> String? {
        let directory = try templateDirectory(cpus: cpus, memoryMB: memoryMB, withCard: withCard, image: image)
        return FileManager.default.fileExists(atPath: VMPaths(directory: directory).snapshotManifest) ? directory : nil
    }

    /// Boots a VM of this size, lets it settle, checkpoints it into the template directory (built
    /// aside and renamed into place, so a half-made template is never used) and destroys the VM.
    public func buildTemplate(
        cpus: Int, memoryMB: Int, withCard: Bool = false, settle: Duration = .seconds(1), image: String
    ) async throws -> String {
        let directory = try templateDirectory(cpus: cpus, memoryMB: memoryMB, withCard: withCard, image: image)
        if FileManager.default.fileExists(atPath: directory) { return directory }
        var generator = SystemRandomNumberGenerator()
        let id = "tpl" + String(generator.next() as UInt64 % 1_000_000_000_000, radix: 16)
        let staging = directory + ".building-" + id
        do {
            try Task.checkCancellation()
            try await boot(id: id, cpus: cpus, memoryMB: memoryMB, hostname: "bhatti", nic: withCard ? .placeholder() : nil, image: image)
            try await Task.sleep(for: settle)
            _ = try await checkpoint(id: id, into: staging)
            await destroy(id: id)
            guard rename(staging, directory) == 0 else { throw EngineError.io("rename \(staging)", Errno.current) }
            return directory
        } catch {
            await destroy(id: id)
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Where the template for a size under the image in `directory` lives (or will): the name changes
    /// with the image's files, so each image (and each rebuild of one) has its own.
    public func templateDirectory(cpus: Int, memoryMB: Int, withCard: Bool = false, image directory: String) throws -> String {
        let image: GuestImage
        do { image = try GuestImage.open(directory) } catch {
            throw EngineError.imageMissing("no guest image in \(directory): \(error)")
        }
        let files = image.manifest.files.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.sha256)" }.joined(separator: ",")
        var facts = "\(files);cpus=\(cpus);memory=\(memoryMB);accel=\(configuration.accelerator.accelerator.rawValue)"
        if withCard { facts += ";nic=1" }
        let key = String(sha256Hex(Array(facts.utf8)).prefix(16))
        let root = configuration.dataDirectory + "/templates"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root + "/" + key
    }
}
