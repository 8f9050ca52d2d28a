public import BhattiCore
import BhattiEngine
import BhattiImage
public import BhattiStore
import BhattiSystem
import Foundation

/// Named snapshots: checkpoints of a running sandbox that restore into new sandboxes.
extension SandboxService {
    /// How many named snapshots one owner may keep.
    public static let snapshotQuota = 20

    /// Checkpoints `sandbox` (waking it first) as `name`; the sandbox keeps running. Names and the quota
    /// are per owner.
    public func createSnapshot(of sandbox: SandboxRef, name: String) async throws -> SnapshotRecord {
        let name = try SandboxName.parse(name).rawValue
        let owner = sandbox.owner
        if try await store.snapshot(ownedBy: owner, named: name) != nil {
            throw BhattiError(.alreadyExists, "a snapshot named \(name) already exists")
        }
        guard try await store.snapshots(ownedBy: owner).count < Self.snapshotQuota else {
            throw BhattiError(.resourceExhausted, "snapshot quota reached (\(Self.snapshotQuota)); delete one first")
        }
        let (record, _) = try await guest(sandbox)
        return try await held(record.id) { try await checkpoint(record, as: name, owner: owner) }
    }

    /// The named snapshot's copy and record, while the sandbox is held hot.
    private func checkpoint(_ record: SandboxRecord, as name: String, owner: String) async throws -> SnapshotRecord {
        // The copy takes what the RAM file and overlay occupy (sparse): refused up front on a full disk.
        let paths = VMPaths(dataDirectory: engine.configuration.dataDirectory, id: record.id.rawValue)
        let copy = DiskSpace.allocatedBytes(paths.memory) + DiskSpace.allocatedBytes(paths.disk)
        try StorageBudget.check(
            free: DiskSpace.freeBytes(engine.configuration.dataDirectory), needed: copy + StorageBudget.headroomBytes,
            directory: engine.configuration.dataDirectory, for: "snapshot \(record.name)")
        let id = "snap" + SandboxID.random().rawValue
        let directory = engine.configuration.dataDirectory + "/snapshots/" + id
        let started = ContinuousClock.now
        let copied: Int
        do { copied = try await engine.checkpoint(id: record.id.rawValue, into: directory, durable: true) } catch {
            throw BhattiError(.unavailable, "snapshot of \(record.name) failed (it keeps running): \(error)", cause: error)
        }
        let snapshot = SnapshotRecord(
            id: id, userID: owner, name: name, sourceSandboxID: record.id, cpus: record.cpus, memoryMB: record.memoryMB,
            diskMB: record.diskMB, image: record.image, directory: directory, sizeBytes: Int64(copied), createdAt: Date())
        do { try await store.insertSnapshot(snapshot) } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        log.info(
            "snapshot.created",
            [
                "snapshot.id": id, "sandbox.id": record.id.rawValue, "bytes": String(copied),
                "ms": ms(since: started),
            ])
        events.record("snapshot.created", sandbox: record.id, user: owner, detail: "name=\(name) bytes=\(copied)")
        return snapshot
    }

    public func snapshots(owner: String) async throws -> [SnapshotRecord] {
        try await store.snapshots(ownedBy: owner)
    }

    /// A new sandbox from the owner's snapshot `name`, with its own identity; `newName` or `<snapshot>-<n>`.
    public func restoreSnapshot(
        _ name: String, owner: String, limits: OwnerLimits = .none, as newName: SandboxName?, labels: [String: String] = [:],
        setup: GuestSetup = GuestSetup(), egress: EgressPolicy = .publicAccess
    ) async throws -> SandboxRecord {
        guard let snapshot = try await store.snapshot(ownedBy: owner, named: name) else {
            throw BhattiError(.notFound, "snapshot \(BhattiError.shortened(name)) not found")
        }
        let sandboxName = try newName ?? SandboxName.parse(name + "-" + String(SandboxID.random().rawValue.prefix(4)))
        if try await store.find(sandboxName.rawValue, ownedBy: owner) != nil {
            throw BhattiError(.alreadyExists, "a sandbox named \(sandboxName) already exists")
        }
        let spec = try SandboxSpec(name: sandboxName, cpus: snapshot.cpus, memoryMB: snapshot.memoryMB, diskMB: snapshot.diskMB)
        try limits.check(cpus: spec.cpus, memoryMB: spec.memoryMB)
        // As for a fork: an environment named here replaces the snapshot's whole, over the image's defaults.
        var setup = setup
        if setup.replacesEnvironment, let entry = try? await images.find(snapshot.image, visibleTo: owner) {
            setup = setup.withImageDefaults(env: entry.env, workingDirectory: entry.workingDirectory, user: entry.user)
        }
        return try await create(
            spec, owner: owner, limits: limits, labels: labels, keepHot: false, origin: .snapshot(directory: snapshot.directory),
            image: snapshot.image, setup: setup, egress: egress
        ).0
    }

    public func deleteSnapshot(_ name: String, owner: String) async throws {
        guard let snapshot = try await store.snapshot(ownedBy: owner, named: name) else {
            throw BhattiError(.notFound, "snapshot \(BhattiError.shortened(name)) not found")
        }
        try await store.deleteSnapshot(id: snapshot.id)
        try? FileManager.default.removeItem(atPath: snapshot.directory)
        log.info("snapshot.deleted", ["snapshot.id": snapshot.id])
        events.record("snapshot.deleted", user: owner, detail: "name=\(name)")
        spawn { service in await service.images.collectBases() }
    }
}

/// Images saved from sandboxes.
extension SandboxService {
    /// Makes image `name`, private to `sandbox`'s owner, from its disk as it is now (waking it first):
    /// the guest syncs its file systems, the VM pauses while its overlay is copied, and runs again; the
    /// copy is flattened onto its base. 409 when the name is taken or another import or save holds it.
    public func saveImage(of sandbox: SandboxRef, name: String) async throws -> ImageEntry {
        try await images.beginImport(name)
        do {
            let entry = try await savingImage(of: sandbox, name: name)
            await images.endImport(name)
            return entry
        } catch {
            await images.endImport(name)
            throw error
        }
    }

    private func savingImage(of sandbox: SandboxRef, name: String) async throws -> ImageEntry {
        let owner = sandbox.owner
        let (record, guest) = try await guest(sandbox)
        let source = try await images.find(record.image, visibleTo: owner)
        return try await held(record.id) {
            // The flattened copy takes up to the base and the overlay: refused up front on a full disk.
            let paths = VMPaths(dataDirectory: engine.configuration.dataDirectory, id: record.id.rawValue)
            try StorageBudget.check(
                free: DiskSpace.freeBytes(images.root),
                needed: DiskSpace.allocatedBytes(source.image.rootfsPath) + DiskSpace.allocatedBytes(paths.disk)
                    + StorageBudget.headroomBytes,
                directory: images.root, for: "image \(name) from \(record.name)")
            // What the guest's page cache holds goes to its disk first.
            let code: Int32
            do { code = try await guest.exec(GuestCommand(argv: ["sync"]), stdin: nil, timeout: .seconds(120)) { _ in } } catch let error
                as GuestError
            {
                throw GuestErrors.map(error, sandbox: record.name.rawValue)
            }
            guard code == 0 else { throw BhattiError(.internal, "sync in \(record.name) exited \(code)") }
            let engine = engine
            let id = record.id.rawValue
            let entry = try await images.save(as: name, owner: owner, from: source, sandbox: record.name.rawValue) { path in
                try await engine.flattenDisk(id: id, to: path)
            }
            log.info("image.saved", ["image": name, "sandbox.id": id])
            events.record("image.saved", sandbox: record.id, user: owner, detail: "name=\(name)")
            return entry
        }
    }
}
