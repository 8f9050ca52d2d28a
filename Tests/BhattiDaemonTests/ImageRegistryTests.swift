import BhattiCore
import BhattiImage
import BhattiStore
import Foundation
import Testing

@testable import BhattiDaemon

/// The image registry over a temporary data directory: images are directories with the builder's
/// files (fakes, a few bytes each) and, for private ones, `registry.json`; the store is real SQLite.
@Suite("Image registry")
struct ImageRegistryTests {
    let data: String
    let store: SandboxStore
    let registry: ImageRegistry

    init() throws {
        data = FileManager.default.temporaryDirectory.path + "/bhatti-images-" + SandboxID.random().rawValue
        try FileManager.default.createDirectory(atPath: data + "/images", withIntermediateDirectories: true)
        store = try SandboxStore(path: data + "/state.db")
        registry = ImageRegistry(
            dataDirectory: data, configuredDirectory: data + "/configured", defaultName: "default", store: store,
            log: Logger(sink: { _ in }))
        try Self.makeImage(data + "/configured", rootfs: "configured")
        try Self.makeImage(data + "/images/shared", rootfs: "shared")
        try Self.makeImage(data + "/images/mine", rootfs: "mine", owner: "u1")
    }

    /// A complete image as `GuestImage.open` sees one: the four files, the manifest last.
    static func makeImage(_ directory: String, rootfs: String, owner: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["vmlinuz", "initramfs", "rootfs.ext4"] {
            try Data((file == "rootfs.ext4" ? rootfs : file).utf8).write(to: URL(fileURLWithPath: directory + "/" + file))
        }
        let manifest = ImageManifest(
            builtAt: "2026-01-02T03:04:05Z", kernelVersion: "6.1", kernelPackage: "k", kernelPackageVersion: "1", kernelPackageSHA256: "",
            modules: [], initSourceSHA256: "", suite: "bookworm", mirror: "m", packages: ["bash": "5"], loharSHA256: "",
            files: ["rootfs.ext4": .init(bytes: 3 << 20, sha256: "sha-" + rootfs), "vmlinuz": .init(bytes: 1, sha256: "sha-kernel")])
        try Data(try manifest.encoded()).write(to: URL(fileURLWithPath: directory + "/image.json"))
        if let owner {
            let registry = try JSONEncoder().encode(RegistryManifest(owner: owner, source: "import"))
            try registry.write(to: URL(fileURLWithPath: directory + "/" + RegistryManifest.fileName))
        }
    }

    /// A VM directory's `vm.json` naming `base` (what `ImageUser` reads).
    func vmRecord(_ folder: String, _ name: String, base: String) throws {
        let directory = data + "/" + folder + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json =
            #"{"cpus":1,"memoryMB":128,"kernel":"/k","initramfs":"/i","baseImage":"\#(base)","accelerator":"tcg","hostname":"h","token":"t"}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/vm.json"))
    }

    func sandbox(_ name: String, image: String, owner: String) async throws -> SandboxRecord {
        let record = SandboxRecord(
            id: .random(), name: SandboxName(rawValue: name)!, state: .hot, cpus: 1, memoryMB: 128, image: image, createdAt: Date(),
            userID: owner)
        try await store.insert(record)
        return record
    }

    func code(_ body: () async throws -> Void) async -> BhattiError.Code? {
        do { try await body() } catch let error as BhattiError { return error.code } catch { return nil }
        return nil
    }

    @Test("the configured image is default; public images are everyone's, a private one only its owner's")
    func visibility() async throws {
        #expect(await registry.list(visibleTo: "u1").map(\.name) == ["default", "mine", "shared"])
        #expect(await registry.list(visibleTo: "u2").map(\.name) == ["default", "shared"])
        #expect(try await registry.find("default", visibleTo: "u2").directory == data + "/configured")
        #expect(try await registry.find("mine", visibleTo: "u1").owner == "u1")
        // Another user's image reads exactly as a missing one.
        var messages: [String] = []
        for name in ["mine", "ghost"] {
            do { _ = try await registry.find(name, visibleTo: "u2") } catch { messages.append("\(error.code) \(error.message)") }
        }
        #expect(messages == ["notFound no image mine (see `bhatti image list`)", "notFound no image ghost (see `bhatti image list`)"])
        #expect(await code { _ = try await registry.acquire("mine", for: "u2") } == .notFound)
        #expect(try await registry.acquire(nil, for: "u2").name == "default")
    }

    @Test("an --image-dir inside the registry (make serve's dev) is listed once, under its name, as the default; default still finds it")
    func configuredInsideRegistry() async throws {
        let dev = ImageRegistry(
            dataDirectory: data, configuredDirectory: data + "/images/shared/", defaultName: "shared", store: store,
            log: Logger(sink: { _ in }))
        let listed = await dev.list(visibleTo: "u2")
        #expect(listed.map(\.name) == ["shared"])
        #expect(listed.map(dev.isDefault) == [true])
        let alias = try await dev.find("default", visibleTo: "u2")
        #expect(dev.isDefault(alias) && alias.directory == data + "/images/shared/")
        // The usual layout: default is its own directory, and it alone is the default.
        let plain = await registry.list(visibleTo: "u2")
        #expect(plain.map(\.name) == ["default", "shared"] && plain.map(registry.isDefault) == [true, false])
    }

    @Test("a half-made image directory is not listed; a missing default says how to build it")
    func incomplete() async throws {
        try FileManager.default.removeItem(atPath: data + "/images/shared/image.json")
        #expect(await registry.list(visibleTo: "u1").map(\.name) == ["default", "mine"])
        try FileManager.default.removeItem(atPath: data + "/configured/image.json")
        do {
            _ = try await registry.find("default", visibleTo: "u1")
            Issue.record("found a default with no manifest")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("bhatti image build --out"), "\(error.message)")
        }
    }

    @Test("delete: refused while a sandbox, snapshot or boot uses the image (naming them), allowed after")
    func deleteInUse() async throws {
        try await store.insertUser(
            UserRecord(id: "u1", name: "ann", keySHA256: "k", maxSandboxes: 0, maxCPUs: 0, maxMemoryMB: 0, createdAt: Date()))
        let record = try await sandbox("a", image: "mine", owner: "u1")
        do {
            try await registry.delete("mine", by: "u1", isAdmin: false)
            Issue.record("deleted an image a sandbox uses")
        } catch let error as BhattiError {
            #expect(error.code == .invalidState && error.message.contains("sandbox a"), "\(error.message)")
        }
        try await store.delete(record.id)
        try await store.insertSnapshot(
            SnapshotRecord(
                id: "snap1", userID: "u1", name: "s1", cpus: 1, memoryMB: 128, image: "mine", directory: data + "/snapshots/snap1",
                createdAt: Date()))
        #expect(await code { try await registry.delete("mine", by: "u1", isAdmin: false) } == .invalidState)
        try await store.deleteSnapshot(id: "snap1")
        _ = try await registry.acquire("mine", for: "u1")
        #expect(await code { try await registry.delete("mine", by: "u1", isAdmin: false) } == .invalidState, "a boot holds it")
        await registry.release("mine")
        // Its cached templates go with it.
        try vmRecord("templates", "t1", base: data + "/images/mine/bases/sha-mine.ext4")
        try vmRecord("templates", "t2", base: data + "/configured/bases/sha-configured.ext4")
        try await registry.delete("mine", by: "u1", isAdmin: false)
        #expect(!FileManager.default.fileExists(atPath: data + "/images/mine"))
        #expect(!FileManager.default.fileExists(atPath: data + "/templates/t1"))
        #expect(FileManager.default.fileExists(atPath: data + "/templates/t2"))
        #expect(await code { _ = try await registry.find("mine", visibleTo: "u1") } == .notFound)
    }

    @Test("delete: another user's private image is 404, a public one is the admin's, default stays")
    func deleteWho() async throws {
        #expect(await code { try await registry.delete("mine", by: "u2", isAdmin: false) } == .notFound)
        #expect(await code { try await registry.delete("mine", by: "admin", isAdmin: true) } == .notFound)
        #expect(await code { try await registry.delete("shared", by: "u1", isAdmin: false) } == .permissionDenied)
        #expect(await code { try await registry.delete("default", by: "admin", isAdmin: true) } == .invalidState)
        try await registry.delete("shared", by: "admin", isAdmin: true)
        #expect(await registry.list(visibleTo: "admin").map(\.name) == ["default"])
    }

    @Test("unused pinned files go; those a VM names, the current image's and fresh ones stay")
    func collect() async throws {
        let bases = data + "/images/shared/bases"
        try FileManager.default.createDirectory(atPath: bases, withIntermediateDirectories: true)
        for name in ["sha-old.ext4", "sha-used.ext4", "sha-shared.ext4", "sha-kernel.vmlinux"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: bases + "/" + name))
        }
        try vmRecord("sandboxes", "sb1", base: bases + "/sha-used.ext4")
        #expect(await registry.collectBases().isEmpty, "just linked: within the grace period")
        let removed = await registry.collectBases(now: Date().addingTimeInterval(ImageRegistry.pinGrace + 60))
        #expect(removed == [bases + "/sha-old.ext4"])
        let left = try FileManager.default.contentsOfDirectory(atPath: bases).sorted()
        #expect(left == ["sha-kernel.vmlinux", "sha-shared.ext4", "sha-used.ext4"])
    }

    @Test(
        "base collection as a table",
        arguments: [
            ("/b/k1.ext4", false, false, 1000.0, true),
            ("/b/k1.ext4", true, false, 1000.0, false),
            ("/b/cur.ext4", false, true, 1000.0, false),
            ("/b/k1.ext4", false, false, 10.0, false),
        ])
    func table(path: String, referenced: Bool, current: Bool, age: Double, removed: Bool) {
        let now = Date()
        let unused = BaseCollection.unused(
            [.init(path: path, changed: now.addingTimeInterval(-age))], referenced: referenced ? [path] : [],
            currentKeys: current ? ["cur"] : [], now: now, grace: 600)
        #expect(unused == (removed ? [path] : []))
    }
}

@Suite("Image import defaults")
struct ImageImportDefaultsTests {
    @Test("an image config's Env lines become a map: no '=' or an empty name is dropped, a later line wins, values keep '='")
    func environment() {
        let env = ImageRegistry.environment(["A=1", "B=x=y", "NOEQ", "=v", "A=2", "E="])
        #expect(env == ["A": "2", "B": "x=y", "E": ""])
    }

    @Test("the image's env, working dir and user sit under the create's own env")
    func imageDefaults() {
        let setup = GuestSetup(env: ["K": "mine"]).withImageDefaults(
            env: ["K": "image", "P": "/bin"], workingDirectory: "/app", user: "app")
        #expect(
            setup.env == ["K": "mine", "P": "/bin"] && setup.workingDirectory == "/app" && setup.user == "app" && setup.replacesEnvironment)
        let plain = GuestSetup().withImageDefaults(env: [:], workingDirectory: "", user: "")
        #expect(plain.isEmpty && plain.workingDirectory == nil && plain.user == nil)
        let onlyUser = GuestSetup().withImageDefaults(env: [:], workingDirectory: nil, user: "0")
        #expect(!onlyUser.isEmpty && onlyUser.replacesEnvironment)
    }
}
