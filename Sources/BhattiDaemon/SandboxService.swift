public import BhattiCore
public import BhattiEngine
public import BhattiStore
import BhattiSystem
import Foundation
import Synchronization

/// A sandbox as a request names it: an id or a name, and whose namespace to look in. Every lookup a
/// request makes goes through one, so another user's sandbox is simply not found.
public struct SandboxRef: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    /// The owning user's id.
    public var owner: String
    public init(_ key: String, owner: String) {
        self.key = key
        self.owner = owner
    }
    public var description: String { key }
}

/// What a new guest is given besides its hostname: environment, secrets (decrypted), files, an init script.
public struct GuestSetup: Sendable, Equatable {
    public var env: [String: String] = [:]
    public var secrets: [String: String] = [:]
    public var files: [GuestFile] = []
    public var initScript: String?
    /// Where commands start when a request names no cwd: the image's `WorkingDir`; nil: /workspace.
    public var workingDirectory: String?
    /// Who commands run as: the image's `User`; nil: `lohar`.
    public var user: String?
    public init(
        env: [String: String] = [:], secrets: [String: String] = [:], files: [GuestFile] = [], initScript: String? = nil,
        workingDirectory: String? = nil, user: String? = nil
    ) {
        self.workingDirectory = workingDirectory
        self.user = user
        self.env = env
        self.secrets = secrets
        self.files = files
        self.initScript = initScript
    }
    var isEmpty: Bool {
        env.isEmpty && secrets.isEmpty && files.isEmpty && initScript == nil && workingDirectory == nil && user == nil
    }
    var replacesEnvironment: Bool { !env.isEmpty || !secrets.isEmpty || workingDirectory != nil || user != nil }

    /// The image's environment, working directory and user under the create's own: the create's env wins.
    func withImageDefaults(env imageEnv: [String: String], workingDirectory imageDirectory: String?, user imageUser: String?) -> GuestSetup
    {
        var setup = self
        setup.env = imageEnv.merging(env) { _, own in own }
        if let imageDirectory, !imageDirectory.isEmpty { setup.workingDirectory = imageDirectory }
        if let imageUser, !imageUser.isEmpty { setup.user = imageUser }
        return setup
    }
}

/// What one owner may have: nil fields are unlimited (the admin).
public struct OwnerLimits: Sendable, Equatable {
    public var maxSandboxes: Int?
    public var maxCPUs: Int?
    public var maxMemoryMB: Int?
    public init(maxSandboxes: Int? = nil, maxCPUs: Int? = nil, maxMemoryMB: Int? = nil) {
        self.maxSandboxes = maxSandboxes
        self.maxCPUs = maxCPUs
        self.maxMemoryMB = maxMemoryMB
    }
    public static let none = OwnerLimits()

    /// Refuses a size past the per-sandbox limits (400: the request itself is wrong for this user).
    func check(cpus: Int, memoryMB: Int) throws {
        if let max = maxCPUs, cpus > max {
            throw BhattiError(.invalidArgument, "cpus \(cpus) exceeds your limit of \(max) per sandbox")
        }
        if let max = maxMemoryMB, memoryMB > max {
            throw BhattiError(.invalidArgument, "memory_mb \(memoryMB) exceeds your limit of \(max) per sandbox")
        }
    }
}

/// The registry of sandboxes behind the API: create (boot, template, fork, snapshot), lookup, list,
/// edit, destroy and templates here; the guest routes' wake in `+Guest`, the engine's part of each
/// transition in `+Thermal`, networking glue in `+Network`. Each sandbox's phase, its one transition at
/// a time, its idle timer and every write of its state to the store are its `SandboxSupervisor`'s.
///
/// Every state change is recorded in the store before it is reported, so a crash never leaves the
/// API claiming something the store forgot.
public actor SandboxService {
    // Internal, not private: the thermal and snapshot extensions in their own files use them.
    let store: SandboxStore
    /// The VMs, through the narrow engine protocol (QEMU's `Engine` in a daemon, a fake in tests).
    let engine: any SandboxEngine
    let log: Logger
    /// Creates in flight, by owner and name: a second create of the same name waits for the first, and
    /// a destroy that races one cancels it (the only way such a task is cancelled), which makes it tear
    /// down what it made (see SandboxService+Lifecycle).
    var creating: [SandboxRef: Task<SandboxRecord, any Error>] = [:]
    /// States the store could not take (a full disk), shown until a later write succeeds
    /// (see SandboxService+Recovery).
    var unrecorded: [SandboxID: UnrecordedState] = [:]
    /// Whether the background retry of `unrecorded` runs (one at a time).
    var retryingUnrecorded = false
    /// Each sandbox's owner: its phase, its one transition at a time, its idle timer, and the only
    /// writer of its state to the store (see SandboxSupervisor). Made on first use, dropped by destroy.
    var supervisors: [SandboxID: SandboxSupervisor] = [:]
    let policy: ThermalPolicy
    /// The idle timers' time: `ContinuousClock` in a daemon, a `ManualClock` in tests of the tiers.
    let time: TimeLine
    /// Per-user networks; nil runs sandboxes without a network card.
    let network: NetworkManager?
    /// The names of each owner's sandboxes change with creates, renames and destroys: a version per
    /// owner, and the version each guest's /etc/hosts has.
    var hostsVersion: [String: Int] = [:]
    var hostsApplied: [SandboxID: Int] = [:]
    /// Set once shutdown begins: the thermal manager stops cooling on its own.
    var shuttingDown = false
    /// Template sizes built or being built by this daemon.
    var templateBuilds: Set<String> = []
    /// Work under way in the background (template builds, the retry of unrecorded states, /etc/hosts
    /// pushes, keep_hot wakes), each task removing itself when it ends: a stopping daemon cancels them
    /// and waits, so none touches the data directory (or starts a QEMU) after the daemon has stopped.
    var backgroundWork: [Int: Task<Void, Never>] = [:]
    var backgroundWorkCount = 0
    /// The audit log: lifecycle moves are recorded here.
    public nonisolated let events: EventLog
    /// Raised whenever a sandbox goes hot (booted, resumed, restored, adopted): the E2B metrics
    /// sampler, idle while nothing it samples runs, looks again.
    nonisolated let wentHot = WakeSignal()
    /// Holds ended where nothing can wait (a proxy relay's lease dropped unrun), released in order.
    nonisolated let releases = SerialWork()

    /// I/O limits for owners without their own.
    let defaultIOLimits: IOLimits
    /// The images sandboxes boot from, by name.
    public nonisolated let images: ImageRegistry

    public init(
        store: SandboxStore, engine: any SandboxEngine, log: Logger, policy: ThermalPolicy = ThermalPolicy(),
        network: NetworkManager? = nil, images: ImageRegistry? = nil,
        defaultIOLimits: IOLimits = .unlimited, clock: any Clock<Duration> = ContinuousClock()
    ) {
        time = TimeLine(clock)
        let data = engine.configuration.dataDirectory
        self.images =
            images
            ?? ImageRegistry(
                dataDirectory: data, configuredDirectory: data + "/images/default", defaultName: "default", store: store, log: log)
        self.defaultIOLimits = defaultIOLimits
        self.network = network
        self.store = store
        self.engine = engine
        self.log = log
        self.policy = policy
        events = EventLog(store: store, log: log)
    }

    /// Creates and boots a sandbox for `owner`, or returns the owner's existing one of that name
    /// (`existing: true`). `image` names the image to boot (nil: the daemon's default; 404 when the
    /// owner cannot see it). `source` names one of the owner's running sandboxes to fork (its memory
    /// and disk, and so its image) instead of a fresh boot. `limits` are checked before anything
    /// starts; the count limit is checked again atomically with the insert.
    public func create(
        _ spec: SandboxSpec, owner: String, limits: OwnerLimits = .none, labels: [String: String], keepHot: Bool,
        from source: String? = nil, image: String? = nil, setup: GuestSetup = GuestSetup(), egress: EgressPolicy = .publicAccess
    ) async throws -> (SandboxRecord, existing: Bool) {
        let ref = SandboxRef(spec.name.rawValue, owner: owner)
        if let pending = creating[ref] {
            return (try await pending.value, true)
        }
        if let found = try await store.find(spec.name.rawValue, ownedBy: owner), found.name == spec.name {
            return (found, true)
        }
        try SandboxLabels.validate(labels)
        if let source {
            if image != nil { throw BhattiError(.invalidArgument, "a fork boots its source's image; leave out image with from") }
            let parent = try await get(SandboxRef(source, owner: owner))
            // The fork's RAM is the parent's: its size comes along.
            let spec = try SandboxSpec(name: spec.name, cpus: parent.cpus, memoryMB: parent.memoryMB, diskMB: parent.diskMB)
            try limits.check(cpus: spec.cpus, memoryMB: spec.memoryMB)
            // A fork whose create names env or secrets replaces the guest's environment whole: the
            // image's env, working directory and user go under it, as for a boot of that image.
            var setup = setup
            if setup.replacesEnvironment, let entry = try? await images.find(parent.image, visibleTo: owner) {
                setup = setup.withImageDefaults(env: entry.env, workingDirectory: entry.workingDirectory, user: entry.user)
            }
            return try await create(
                spec, owner: owner, limits: limits, labels: labels, keepHot: keepHot, origin: .fork(parent.id), image: parent.image,
                setup: setup, egress: egress)
        }
        // Held until the create ends: by then the store records the sandbox's image, which keeps it.
        let entry = try await images.acquire(image, for: owner)
        do {
            // A disk only grows: it holds the image's file system at least.
            if let diskMB = spec.diskMB, diskMB < entry.diskMB {
                throw BhattiError(
                    .invalidArgument, "disk must be at least \(entry.diskMB) MiB (image \(entry.name)'s root file system), got \(diskMB)")
            }
            try limits.check(cpus: spec.cpus, memoryMB: spec.memoryMB)
            let made = try await create(
                spec, owner: owner, limits: limits, labels: labels, keepHot: keepHot, origin: .boot(imageDirectory: entry.directory),
                image: entry.name,
                setup: setup.withImageDefaults(env: entry.env, workingDirectory: entry.workingDirectory, user: entry.user),
                egress: egress)
            await images.release(entry.name)
            return made
        } catch {
            await images.release(entry.name)
            throw error
        }
    }
    /// Where a new sandbox's first state comes from.
    enum Origin: Sendable {
        /// A cold boot of the image in that directory, or its template snapshot when one fits.
        case boot(imageDirectory: String)
        /// A running sandbox's memory and disk, copied.
        case fork(SandboxID)
        /// A named snapshot's directory.
        case snapshot(directory: String)
    }

    /// `image`: the name the record keeps (the booted image's, or the fork's or snapshot's source's).
    func create(
        _ spec: SandboxSpec, owner: String, limits: OwnerLimits, labels: [String: String], keepHot: Bool, origin: Origin,
        image: String, setup: GuestSetup = GuestSetup(), egress: EgressPolicy = .publicAccess
    ) async throws -> (SandboxRecord, existing: Bool) {
        // Re-check after the callers' awaits: another create of this name may have started meanwhile.
        // From here to registering the task there is no suspension point.
        let ref = SandboxRef(spec.name.rawValue, owner: owner)
        if let pending = creating[ref] {
            return (try await pending.value, true)
        }
        // A VM on a full disk dies of SIGBUS when its RAM file cannot grow: refuse it up front (507).
        try checkStorage(memoryMB: spec.memoryMB, for: "create \(spec.name)")
        var record = SandboxRecord(
            id: .random(), name: spec.name, state: .creating, cpus: spec.cpus, memoryMB: spec.memoryMB, diskMB: spec.diskMB,
            image: image, labels: labels, keepHot: keepHot, createdAt: Date(), userID: owner)
        record.egress = egress
        let task = Task { [engine, store, log, events] () throws -> SandboxRecord in
            try await store.insert(record, maxForOwner: limits.maxSandboxes)
            do {
                let nic = try await self.attachNetwork(record)
                let how = try await self.bringUp(record, origin: origin, nic: nic, io: try await self.ioLimits(owner: owner))
                // Boots and templates start at the image's size; a fork or snapshot already has its own.
                if let diskMB = record.diskMB { try await engine.growDisk(id: record.id.rawValue, megabytes: diskMB) }
                if !setup.isEmpty { try await self.apply(setup, to: record) }
                var hot = record
                hot.ip = nic?.ip
                // A destroy that came while this booted wins: nothing is reported created that the
                // store no longer has (and no QEMU runs on for it).
                try self.checkStillWanted(record)
                hot.state = try await self.supervisor(record.id).commit(record, on: .booted).state
                log.info("sandbox.created", ["sandbox.id": record.id.rawValue, "sandbox.name": record.name.rawValue, "from": how])
                events.record("sandbox.created", sandbox: record.id, user: owner, detail: "name=\(record.name) from=\(how)")
                await self.touch(record.id)
                await self.publishHosts(owner: owner)
                return hot
            } catch {
                // A sandbox that never booted is not kept: the create failed as a whole.
                await engine.destroy(id: record.id.rawValue)
                await self.detachNetwork(record)
                try? await store.delete(record.id)
                if Task.isCancelled {
                    log.info(
                        "sandbox.create_abandoned",
                        ["sandbox.id": record.id.rawValue, "sandbox.name": record.name.rawValue, "error": "\(error)"])
                    throw BhattiError(.invalidState, "sandbox \(record.name) was destroyed while it was being created")
                }
                log.error("sandbox.boot_failed", ["sandbox.id": record.id.rawValue, "error": String(describing: error)])
                if let e = error as? BhattiError { throw e }
                throw BhattiError(.unavailable, "sandbox \(record.name) failed to boot: \(error)", cause: error)
            }
        }
        creating[ref] = task
        defer { creating[ref] = nil }
        return (try await task.value, false)
    }

    /// Brings a new sandbox's VM up; says how (for the log).
    private func bringUp(_ record: SandboxRecord, origin: Origin, nic: NetworkInterface?, io: IOLimits) async throws -> String {
        let id = record.id.rawValue
        let hostname = record.name.rawValue
        let throttle = DiskThrottle(bytesPerSecond: io.diskBytesPerSecond, iops: io.diskIOPS)
        let card = nic != nil
        switch origin {
        case .boot(let imageDirectory):
            if policy.templates,
                let template = try? await engine.template(
                    cpus: record.cpus, memoryMB: record.memoryMB, withCard: card, image: imageDirectory)
            {
                do {
                    try await engine.clone(
                        from: template, to: id, hostname: hostname, keepEnvironment: false, nic: nic, diskThrottle: throttle)
                    return "template"
                } catch {
                    log.warning("sandbox.template_failed", ["sandbox.id": id, "error": "\(error)"])
                }
            }
            _ = try await engine.boot(
                id: id, cpus: record.cpus, memoryMB: record.memoryMB, hostname: hostname, nic: nic, diskThrottle: throttle,
                image: imageDirectory)
            if policy.templates { await buildTemplate(cpus: record.cpus, memoryMB: record.memoryMB, withCard: card, image: record.image) }
            return "boot"
        case .fork(let parentID):
            let (parent, _) = try await guest(SandboxRef(parentID.rawValue, owner: record.userID ?? ""))
            let directory = VMPaths(dataDirectory: engine.configuration.dataDirectory, id: id).directory
            try await held(parent.id) {
                _ = try await engine.checkpoint(id: parent.id.rawValue, into: directory, durable: false)
            }
            try await engine.clone(from: directory, to: id, hostname: hostname, keepEnvironment: true, nic: nic, diskThrottle: throttle)
            return "fork"
        case .snapshot(let directory):
            try await engine.clone(from: directory, to: id, hostname: hostname, keepEnvironment: true, nic: nic, diskThrottle: throttle)
            return "snapshot"
        }
    }

    /// Gives a new guest its environment, secrets, files and init script. A fork or snapshot keeps its
    /// source's environment unless the create names env or secrets, which then replace it whole.
    private func apply(_ setup: GuestSetup, to record: SandboxRecord) async throws {
        let guest = try await engine.guest(for: record.id.rawValue)
        let settings = GuestSettings(
            env: setup.env, secrets: setup.secrets, files: setup.files, initScript: setup.initScript,
            replaceEnvironment: setup.replacesEnvironment, hosts: nil, workingDirectory: setup.workingDirectory,
            user: setup.user)
        do { try await guest.configure(settings) } catch let error as GuestError {
            throw GuestErrors.map(error, sandbox: record.name.rawValue)
        }
    }

    /// Builds the template for a size of an image in the background, once: the next create of that
    /// image and size restores it instead of booting. The build holds the image (no delete meanwhile).
    private func buildTemplate(cpus: Int, memoryMB: Int, withCard: Bool, image: String) async {
        guard let entry = await images.retain(image) else { return }
        // Keyed by the template's directory, which changes with the image: a rebuilt image gets new ones.
        guard let key = try? await engine.templateDirectory(cpus: cpus, memoryMB: memoryMB, withCard: withCard, image: entry.directory),
            !templateBuilds.contains(key)
        else {
            await images.release(image)
            return
        }
        templateBuilds.insert(key)
        let (engine, log, images) = (engine, log, images)
        spawn { _ in
            do {
                let directory = try await engine.buildTemplate(
                    cpus: cpus, memoryMB: memoryMB, withCard: withCard, settle: .seconds(1), image: entry.directory)
                log.info("template.built", ["size": key, "image": image, "directory": directory])
            } catch is CancellationError {
                log.info("template.cancelled", ["size": key])
            } catch {
                log.warning("template.failed", ["size": key, "error": "\(error)"])
            }
            await images.release(image)
        }
    }

    /// Starts `work` in the background, owned: it is kept in `backgroundWork` until it ends, cancelled
    /// by `cancelBackgroundWork` and waited for by `backgroundWorkEnded`.
    func spawn(_ work: @escaping @Sendable (SandboxService) async -> Void) {
        backgroundWorkCount += 1
        let key = backgroundWorkCount
        // The task cannot reach `finished` before it is registered: that needs this actor, held until
        // the assignment below is done.
        backgroundWork[key] = Task {
            await work(self)
            self.finished(key)
        }
    }

    private func finished(_ key: Int) { backgroundWork[key] = nil }

    /// Asks background work to stop; `backgroundWorkEnded` waits for it.
    public func cancelBackgroundWork() {
        for task in backgroundWork.values { task.cancel() }
    }

    /// Waits for background work to end (after `cancelBackgroundWork`, and after the engine has shut
    /// down, which fails a template VM's boot at once).
    public func backgroundWorkEnded() async {
        while let (key, task) = backgroundWork.first {
            await task.value
            backgroundWork[key] = nil
        }
        await releases.close()
    }

    /// The supervisor of `id`, made on first use.
    func supervisor(_ id: SandboxID) -> SandboxSupervisor {
        if let supervisor = supervisors[id] { return supervisor }
        let supervisor = SandboxSupervisor(
            id: id, service: self, store: store, policy: policy, time: time, log: log, events: events,
            snapshotDirectory: VMPaths(dataDirectory: engine.configuration.dataDirectory, id: id.rawValue).directory,
            // One made during a shutdown starts no timer either.
            ended: shuttingDown)
        supervisors[id] = supervisor
        return supervisor
    }

    /// Looks up by id or name, in the owner's namespace only.
    public func get(_ ref: SandboxRef) async throws -> SandboxRecord {
        guard let record = try await store.find(ref.key, ownedBy: ref.owner) else {
            throw BhattiError(.notFound, "sandbox \(BhattiError.shortened(ref.key)) not found")
        }
        return overlaid(record)
    }

    /// Every owner's sandboxes: for the daemon's own shutdown bookkeeping, never for a request.
    public func allSandboxes() async -> [SandboxRecord] { ((try? await store.list()) ?? []).map(overlaid) }

    /// One owner's sandboxes, filtered by labels.
    public func list(owner: String, labels: [String: String] = [:]) async throws -> [SandboxRecord] {
        try await store.list(ownedBy: owner).map(overlaid).filter { r in labels.allSatisfy { r.labels[$0.key] == $0.value } }
    }

    /// Renames, sets keep_hot, adds and removes labels. The guest's hostname stays what it was at boot.
    public func edit(
        _ idOrName: SandboxRef, name: SandboxName?, keepHot: Bool?, addLabels: [String: String], removeLabels: [String], diskMB: Int? = nil
    ) async throws -> SandboxRecord {
        var record = try await get(idOrName)
        if let diskMB, diskMB != record.diskMB {
            try await growDisk(record, to: diskMB)
            record.diskMB = diskMB
        }
        if let name { record.name = name }
        if let keepHot { record.keepHot = keepHot }
        for key in removeLabels { record.labels.removeValue(forKey: key) }
        for (k, v) in addLabels { record.labels[k] = v }
        try SandboxLabels.validate(record.labels)
        try await store.update(record.id, name: record.name, keepHot: record.keepHot, labels: record.labels)
        if name != nil { await publishHosts(owner: record.userID) }
        // The timer looks again at once: a pinned sandbox's ends, an unpinned one's idleness counts from
        // now. Pinned: a warm or cold sandbox comes back, as at start.
        if let keepHot { await supervisor(record.id).keepHotChanged(keepHot) }
        if keepHot == true, record.state == .warm || record.state == .cold {
            let id = record.id
            spawn { service in _ = try? await service.wake(id) }
        }
        return record
    }

    /// Grows a hot sandbox's root disk to `megabytes` (the file system with it). Never shrinks, and never
    /// wakes a sandbox: edits are metadata routes, so a warm or cold one must be started first.
    private func growDisk(_ record: SandboxRecord, to megabytes: Int) async throws {
        try SandboxSpec.checkDisk(megabytes)
        let current: Int
        if let diskMB = record.diskMB { current = diskMB } else { current = await images.diskMB(of: record.image) ?? 0 }
        guard megabytes >= current else {
            throw BhattiError(.invalidArgument, "a disk only grows: \(record.name) has \(current) MiB, asked for \(megabytes)")
        }
        // Held before the state is read again, so the thermal manager cannot pause it in between.
        try await held(record.id) {
            let state = try await sandbox(record.id)?.state ?? record.state
            guard state == .hot else {
                throw BhattiError(
                    .invalidState,
                    "sandbox \(record.name) is \(state.rawValue): start it before growing its disk (bhatti start \(record.name))")
            }
            do { try await engine.growDisk(id: record.id.rawValue, megabytes: megabytes) } catch {
                throw BhattiError(.unavailable, "growing the disk of \(record.name) failed: \(error)", cause: error)
            }
        }
        try await store.setDiskMB(record.id, megabytes)
        events.record("sandbox.disk_grown", sandbox: record.id, user: record.userID, detail: "disk_mb=\(megabytes)")
    }

    /// Stops the VM and forgets the sandbox, files and all. A create in flight is told to give up and
    /// waited for, and a thermal transition is waited for: one outcome wins, and no QEMU outlives its record.
    public func destroy(_ ref: SandboxRef) async throws {
        let found = try await get(ref)
        if found.state == .creating, let creation = creating[SandboxRef(found.name.rawValue, owner: found.userID ?? "")] {
            creation.cancel()
            _ = try? await creation.value
        }
        let record: SandboxRecord
        do {
            record = try await transition(found.id) { service, record in
                try await service.destroyNow(record)
                return record
            }
        } catch let error as BhattiError where error.code == .notFound {
            // The create it raced gave up and removed everything: what the caller asked for is done.
            if found.state == .creating {
                log.info("sandbox.destroyed", ["sandbox.id": found.id.rawValue, "during": "create"])
                events.record("sandbox.destroyed", sandbox: found.id, user: found.userID, detail: "name=\(found.name) during its create")
                return
            }
            throw BhattiError(.notFound, "sandbox \(ref.key) not found")
        }
        supervisors[record.id] = nil
        await removeNetworkIfUnused(owner: record.userID)
        hostsApplied[record.id] = nil
        await publishHosts(owner: record.userID)
        log.info("sandbox.destroyed", ["sandbox.id": record.id.rawValue])
        events.record("sandbox.destroyed", sandbox: record.id, user: record.userID, detail: "name=\(record.name)")
        // Its image's pinned files may be named by nothing now (an image rebuilt since it booted).
        spawn { service in await service.images.collectBases() }
    }
}
