public import BhattiCore
import BhattiEngine
public import BhattiImage
public import BhattiStore
import BhattiSystem
public import Foundation
import Glibc

/// The images this daemon boots sandboxes from, by name: the one owner of `<data-dir>/images/`.
///
/// An image is a directory: `<data-dir>/images/<name>/`, with the builder's files and `image.json`,
/// and `registry.json` for its owner and origin (absent: the admin built it, everyone sees it). The
/// daemon's configured image directory (`--image-dir`) is registered as `default` whatever its path.
/// The directories are the truth, read on each call, so an image built into place with
/// `bhatti image build --out <data-dir>/images/<name>` is there at once.
///
/// Creates hold a lease on their image while they boot (they are in the store once they end), so a
/// delete never removes an image a boot is reading; a delete also refuses while a sandbox or snapshot
/// records the image, or a VM on disk names its files.
public actor ImageRegistry {
    public nonisolated let dataDirectory: String
    /// The directory registered as `default`.
    public nonisolated let configuredDirectory: String
    /// What a create without an image boots.
    public nonisolated let defaultName: String
    let store: SandboxStore
    let log: Logger
    /// Boots and template builds under way, by image name.
    private var leases: [String: Int] = [:]
    /// Images a delete is checking: no new lease is given meanwhile.
    private var deleting: Set<String> = []
    /// Names an import is making: a second import of one is refused (409) until it ends.
    private var importing: Set<String> = []

    /// How long after being linked a pinned file is kept even if nothing names it yet.
    static let pinGrace: TimeInterval = 600

    public init(dataDirectory: String, configuredDirectory: String, defaultName: String, store: SandboxStore, log: Logger) {
        self.dataDirectory = dataDirectory
        self.configuredDirectory = configuredDirectory
        self.defaultName = defaultName
        self.store = store
        self.log = log
    }

    nonisolated var root: String { dataDirectory + "/images" }

    /// Every image name with its directory, `default` first; a name a sandbox name's rules refuse is skipped.
    nonisolated func directories() -> [(name: String, directory: String)] {
        var found = [(name: "default", directory: configuredDirectory)]
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        for name in names where name != "default" && SandboxName(rawValue: name) != nil {
            found.append((name, root + "/" + name))
        }
        return found
    }

    /// The image in `directory`, or nil when it is not a complete image (a build under way, a copy half done).
    nonisolated func open(_ name: String, _ directory: String) -> ImageEntry? {
        guard let image = try? GuestImage.open(directory) else { return nil }
        var registry = RegistryManifest(source: "build")
        if let data = FileManager.default.contents(atPath: directory + "/" + RegistryManifest.fileName) {
            guard let decoded = try? JSONDecoder().decode(RegistryManifest.self, from: data) else {
                log.warning("image.registry_unreadable", ["image": name, "directory": directory])
                return nil
            }
            registry = decoded
        }
        let created =
            registry.createdAt.flatMap { ISO8601DateFormatter().date(from: $0) }
            ?? ISO8601DateFormatter().date(from: image.manifest.builtAt)
        return ImageEntry(
            name: name, directory: directory, owner: registry.owner, source: registry.source, createdAt: created, env: registry.env ?? [:],
            workingDirectory: registry.workingDir, user: registry.user, image: image)
    }

    /// The images `user` may see, by name. `default` is left out when it is another listed image's
    /// directory (`--image-dir <data-dir>/images/dev`): one image, listed once, under its own name.
    public func list(visibleTo user: String) -> [ImageEntry] {
        let all = directories()
        let aliased = all.dropFirst().contains { Self.sameDirectory($0.directory, configuredDirectory) }
        return all.filter { !(aliased && $0.name == "default") }.compactMap { open($0.name, $0.directory) }.filter {
            $0.isVisible(to: user)
        }
    }

    /// Whether a create without an image boots `entry`: the default name, or the `default` alias of
    /// the configured directory that the default name also lists.
    public nonisolated func isDefault(_ entry: ImageEntry) -> Bool {
        entry.name == defaultName || (entry.name == "default" && Self.sameDirectory(entry.directory, root + "/" + defaultName))
    }

    nonisolated static func sameDirectory(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
    }

    /// An image `user` may see, or 404: one that exists but is another user's is missing to them too.
    /// The configured `default` not built yet is the operator's to fix: 503 saying how.
    public func find(_ name: String, visibleTo user: String) throws(BhattiError) -> ImageEntry {
        if name == "default", (try? GuestImage.open(configuredDirectory)) == nil {
            throw BhattiError(
                .unavailable, "no guest image in \(configuredDirectory): run `bhatti image build --out \(configuredDirectory)` first")
        }
        guard let dir = directories().first(where: { $0.name == name }), let entry = open(dir.name, dir.directory),
            entry.isVisible(to: user)
        else {
            throw BhattiError(.notFound, "no image \(BhattiError.shortened(name)) (see `bhatti image list`)")
        }
        return entry
    }

    /// Finds an image for a boot and holds it until `release`: it cannot be deleted meanwhile. nil: the default.
    public func acquire(_ name: String?, for user: String) throws(BhattiError) -> ImageEntry {
        let name = name ?? defaultName
        let entry = try find(name, visibleTo: user)
        if deleting.contains(name) {
            throw BhattiError(.invalidState, "image \(name) is being deleted")
        }
        leases[name, default: 0] += 1
        return entry
    }

    /// Holds an image for the daemon's own work (a template build), whoever may see it; nil when gone.
    func retain(_ name: String) -> ImageEntry? {
        guard !deleting.contains(name), let dir = directories().first(where: { $0.name == name }), let entry = open(dir.name, dir.directory)
        else { return nil }
        leases[name, default: 0] += 1
        return entry
    }

    public func release(_ name: String) {
        guard let count = leases[name] else { return }
        leases[name] = count > 1 ? count - 1 : nil
    }

    /// The root disk size of the image a sandbox records, for a disk that never grew; nil when it is gone.
    func diskMB(of name: String) -> Int? {
        directories().first { $0.name == name }.flatMap { open($0.name, $0.directory) }?.diskMB
    }

    /// Deletes an image its caller may see: the owner's own, or, for the admin, a public one. Refused
    /// (409, naming them) while sandboxes, snapshots or boots use it. Its cached templates go with it
    /// (the daemon made them, and would only make them again); then unused pinned files elsewhere.
    public func delete(_ name: String, by user: String, isAdmin: Bool) async throws {
        let entry = try find(name, visibleTo: user)
        if entry.owner == nil && !isAdmin {
            throw BhattiError(.permissionDenied, "image \(name) was built by the admin: only the admin can delete it")
        }
        if name == "default" || name == defaultName {
            throw BhattiError(
                .invalidState, "image \(name) is this daemon's default image (--image-dir / default_image): it cannot be deleted")
        }
        guard !deleting.contains(name) else { throw BhattiError(.invalidState, "image \(name) is already being deleted") }
        deleting.insert(name)
        defer { deleting.remove(name) }
        var users: [String] = []
        if let boots = leases[name] { users.append("\(boots) \(boots == 1 ? "boot" : "boots") or template builds under way") }
        // Re-entrant from here: `deleting` keeps new leases out while the store is read.
        let sandboxes = try await store.list().filter { $0.image == name }
        let snapshots = try await store.allSnapshots().filter { $0.image == name }
        users += sandboxes.map { "sandbox \($0.name)" } + snapshots.map { "snapshot \($0.name)" }
        // A VM's files naming the image's own (a sandbox whose record the store lost, say).
        let prefix = entry.directory + "/"
        let onDisk = ImageUser.all(dataDirectory: dataDirectory).filter { $0.files.contains { $0.hasPrefix(prefix) } }
        let recorded = Set(sandboxes.map(\.id.rawValue) + snapshots.map { ($0.directory as NSString).lastPathComponent })
        users += onDisk.filter { $0.kind != .template && !recorded.contains($0.name) }.map { "\($0.kind.rawValue) files \($0.name)" }
        guard users.isEmpty else {
            throw BhattiError(.invalidState, "image \(name) is in use by \(users.joined(separator: ", ")): destroy or delete them first")
        }
        for template in onDisk where template.kind == .template {
            try? FileManager.default.removeItem(atPath: dataDirectory + "/templates/" + template.name)
        }
        do { try FileManager.default.removeItem(atPath: entry.directory) } catch {
            throw BhattiError(.internal, "cannot remove image \(name) at \(entry.directory)", cause: error)
        }
        log.info("image.deleted", ["image": name, "directory": entry.directory])
    }

    /// Claims `name` for an import or a save until `endImport`: 400 for a name a sandbox name's rules refuse,
    /// 409 when an image (anyone's) has it or another import holds it.
    public func beginImport(_ name: String) throws(BhattiError) {
        guard SandboxName(rawValue: name) != nil else {
            throw BhattiError(.invalidArgument, "image name \(BhattiError.shortened(name)) is not valid (the rules of a sandbox name)")
        }
        var st = stat()
        if name == "default" || name == defaultName || importing.contains(name) || lstat(root + "/" + name, &st) == 0 {
            throw BhattiError(.alreadyExists, "image name \(name) is taken (or being imported): delete it or pick another")
        }
        importing.insert(name)
    }

    public func endImport(_ name: String) { importing.remove(name) }

    /// Makes image `name` from the archive at `archive` (a claim from `beginImport` held): unpacks it
    /// in a staging directory under `images/`, adds lohar and the default image's boot files, writes
    /// `image.json` and `registry.json`, and renames the directory into place. Nothing is left on failure.
    /// Blocking (minutes for a large image): runs on its own thread.
    public nonisolated func importArchive(
        _ archive: String, as name: String, owner: String?, progress: @escaping @Sendable (ImportEvent) -> Void = { _ in }
    ) async throws -> ImageEntry {
        let boot: GuestImage
        do { boot = try GuestImage.open(configuredDirectory) } catch {
            throw BhattiError(.unavailable, "no default image in \(configuredDirectory) to take the kernel and lohar from", cause: error)
        }
        let staging = root + "/.import-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let destination = root + "/" + name
        let log = log
        return try await Blocking.run(name: "bhatti-import") { () throws -> ImageEntry in
            defer { try? FileManager.default.removeItem(atPath: staging) }
            do { try FileManager.default.createDirectory(atPath: staging + "/image", withIntermediateDirectories: true) } catch {
                throw BhattiError(.internal, "cannot create \(staging)", cause: error)
            }
            // Whatever the daemon's umask: each sandbox's VMM (not root) opens the image's files.
            guard chmod(staging + "/image", 0o755) == 0 else {
                throw BhattiError(.internal, "cannot chmod \(staging)/image", cause: Errno.current)
            }
            let imported: ImportedImage
            do {
                imported = try ImageArchive.importArchive(at: archive, into: staging + "/tree") { progress(.unpacking($0)) }
            } catch let error as ImportError {
                throw BhattiError(error.isInvalidArchive ? .invalidArgument : .internal, "import \(name): \(error)", cause: error)
            }
            do {
                _ = try BootableImage.make(tree: staging + "/tree", boot: boot, into: staging + "/image", log: { progress(.step($0)) })
            } catch {
                throw BhattiError(.internal, "import \(name): \(error)", cause: error)
            }
            if !imported.defaults.user.isEmpty { try Self.checkUser(imported.defaults.user, tree: staging + "/tree", image: name) }
            let registry = RegistryManifest(
                owner: owner, source: "import", createdAt: ISO8601DateFormatter().string(from: Date()),
                env: ImageRegistry.environment(imported.defaults.env),
                workingDir: imported.defaults.workingDir.isEmpty ? nil : imported.defaults.workingDir,
                user: imported.defaults.user.isEmpty ? nil : imported.defaults.user)
            try Self.install(staging + "/image", as: destination, registry: registry)
            log.info("image.imported", ["image": name, "owner": owner ?? "", "layers": "\(imported.diffIDs.count)"])
            guard let entry = self.open(name, destination) else { throw BhattiError(.internal, "imported image \(name) does not open") }
            return entry
        }
    }

    /// Refuses an import whose `User` its own /etc/passwd and /etc/group (regular files by now: the
    /// bootable step made them so) do not resolve, so the mistake is the import's, not every exec's.
    static func checkUser(_ user: String, tree: String, image: String) throws(BhattiError) {
        func text(_ path: String) -> String { (try? readWholeFile(tree + path)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        do { _ = try UserSpec.resolve(user, passwd: text("/etc/passwd"), group: text("/etc/group")) } catch {
            throw BhattiError(.invalidArgument, "import \(image): the config's User \(user): \(error)", cause: error)
        }
    }

    /// Writes `registry.json` into the finished image directory `directory`, then renames it to `destination`.
    static func install(_ directory: String, as destination: String, registry: RegistryManifest) throws(BhattiError) {
        let name = (destination as NSString).lastPathComponent
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(Array(try encoder.encode(registry)), to: directory + "/" + RegistryManifest.fileName, mode: 0o644)
        } catch {
            throw BhattiError(.internal, "image \(name): cannot write registry.json", cause: error)
        }
        guard rename(directory, destination) == 0 else {
            throw BhattiError(.internal, "image \(name): cannot rename into \(destination)", cause: Errno.current)
        }
    }

    /// Makes image `name` (a claim from `beginImport` held) from sandbox `sandbox`'s disk: `flatten`
    /// writes its root file system, raw, to the path it is given (in a staging directory under
    /// `images/`); the kernel and initramfs are `source`'s (the sandbox's image), and so are its
    /// manifest, env and working directory. `owner`'s alone. Nothing is left on failure.
    public nonisolated func save(
        as name: String, owner: String, from source: ImageEntry, sandbox: String,
        flatten: @Sendable (String) async throws -> Void
    ) async throws -> ImageEntry {
        let staging = root + "/.save-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let destination = root + "/" + name
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do { try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true) } catch {
            throw BhattiError(.internal, "cannot create \(staging)", cause: error)
        }
        // Whatever the daemon's umask: each sandbox's VMM (not root) opens the image's files.
        guard chmod(staging, 0o755) == 0 else { throw BhattiError(.internal, "cannot chmod \(staging)", cause: Errno.current) }
        let rootfs = staging + "/rootfs.ext4"
        do { try await flatten(rootfs) } catch {
            throw BhattiError(.unavailable, "save \(name): cannot copy the disk of \(sandbox): \(error)", cause: error)
        }
        guard chmod(rootfs, 0o644) == 0 else { throw BhattiError(.internal, "cannot chmod \(rootfs)", cause: Errno.current) }
        let log = log
        return try await Blocking.run(name: "bhatti-save") { () throws -> ImageEntry in
            do { _ = try BootableImage.complete(staging, boot: source.image, suite: "save", manifest: source.image.manifest) } catch {
                throw BhattiError(.internal, "save \(name): \(error)", cause: error)
            }
            let registry = RegistryManifest(
                owner: owner, source: "save", createdAt: ISO8601DateFormatter().string(from: Date()), env: source.env,
                workingDir: source.workingDirectory, user: source.user, sandbox: sandbox)
            try Self.install(staging, as: destination, registry: registry)
            log.info("image.saved", ["image": name, "owner": owner, "sandbox": sandbox])
            guard let entry = self.open(name, destination) else { throw BhattiError(.internal, "saved image \(name) does not open") }
            return entry
        }
    }

    /// An image config's `Env` (`K=V` lines) as a map; a line without `=` is dropped, a later one wins.
    static func environment(_ lines: [String]) -> [String: String] {
        var env: [String: String] = [:]
        for line in lines {
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex else { continue }
            env[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return env
    }

    /// Removes pinned kernels, initramfs and bases that no VM on disk names any more (left by images
    /// rebuilt since); returns their paths.
    @discardableResult
    public func collectBases(now: Date = Date()) -> [String] {
        let referenced = Set(ImageUser.all(dataDirectory: dataDirectory).flatMap(\.files))
        var removed: [String] = []
        for (name, directory) in directories() {
            let bases = directory + "/bases"
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: bases) else { continue }
            let pinned = files.compactMap { file -> BaseCollection.Pinned? in
                var info = stat()
                let path = bases + "/" + file
                guard stat(path, &info) == 0 else { return nil }
                return BaseCollection.Pinned(path: path, changed: Date(timeIntervalSince1970: TimeInterval(info.st_ctim.tv_sec)))
            }
            // Without a readable manifest nothing is known to be current: keep everything.
            guard let manifest = try? ImageManifest.read(directory + "/image.json") else { continue }
            let current = Set(manifest.files.values.map(\.sha256))
            for path in BaseCollection.unused(pinned, referenced: referenced, currentKeys: current, now: now, grace: Self.pinGrace) {
                if unlink(path) == 0 {
                    removed.append(path)
                    log.info("image.base_collected", ["image": name, "path": path])
                }
            }
        }
        return removed
    }
}

/// What an import reports while it works, on its own thread.
public enum ImportEvent: Sendable {
    /// The layers being read and applied.
    case unpacking(ImportProgress)
    /// A step after the layers (adding lohar, making the file system).
    case step(String)
}
