import BhattiCore
import BhattiEngine
import BhattiStore
import Foundation

// MARK: networking

extension SandboxService {
    /// The sandbox's card on its owner's network (the namespace, bridge and tap made when missing), or
    /// nil when networking is off. Its address is kept in the store: the same one after every restart.
    func attachNetwork(_ record: SandboxRecord) async throws -> NetworkInterface? {
        guard let network, let owner = record.userID else { return nil }
        let (index, host) = try await store.assignNetwork(sandboxID: record.id, ownerID: owner, capacity: network.capacity)
        let nic: NetworkInterface
        do { nic = try await network.attach(id: record.id.rawValue, index: index, host: host) } catch {
            throw BhattiError(
                .unavailable,
                "cannot set up the network of \(record.name): \(error) (needs root, iproute2, nftables and /dev/net/tun; \"network\": false in the config runs sandboxes without one)",
                cause: error)
        }
        try await store.setIP(record.id, nic.ip)
        // Once per user network in this process (a changed limit is applied at once by `applyNetworkLimit`),
        // so a cold wake after the first costs no `tc`.
        do {
            if await !network.isShaped(index: index) {
                try await network.shape(index: index, mbitPerSecond: try await ioLimits(owner: owner).netMbitPerSecond)
            }
        } catch {
            throw BhattiError(.unavailable, "cannot apply the network limit of \(record.name)'s owner: \(error)", cause: error)
        }
        // Before the VM can send anything: a failure here fails the create (closed, never open).
        let rules = try await store.list(ownedBy: owner).compactMap { r -> NetworkManager.Egress? in
            guard let ip = r.id == record.id ? nic.ip : r.ip else { return nil }
            return NetworkManager.Egress(address: ip, deny: r.egress.deny, allow: r.egress.allow)
        }
        do { try await network.applyEgress(index: index, rules: rules) } catch {
            throw BhattiError(.unavailable, "cannot apply the egress policy of \(record.name): \(error)", cause: error)
        }
        return nic
    }

    /// Removes the sandbox's tap.
    func detachNetwork(_ record: SandboxRecord) async {
        guard let network, let owner = record.userID, let index = try? await store.netIndex(ownerID: owner) else { return }
        await network.detach(id: record.id.rawValue, index: index)
    }

    /// The owner's namespace goes with their last sandbox.
    func removeNetworkIfUnused(owner: String?) async {
        guard let network, let owner, let index = try? await store.netIndex(ownerID: owner),
            (try? await store.count(ownedBy: owner)) == 0
        else { return }
        await network.removeUser(index: index)
    }

    /// Tells the owner's running guests the names and addresses of all the owner's sandboxes
    /// (/etc/hosts), in the background; warm and cold ones catch up when they wake (`hostsCatchUp`).
    func publishHosts(owner: String?) async {
        guard network != nil, let owner else { return }
        let version = (hostsVersion[owner] ?? 0) + 1
        hostsVersion[owner] = version
        guard let sandboxes = try? await store.list(ownedBy: owner) else { return }
        await publishNames(owner: owner, sandboxes: sandboxes)
        for record in sandboxes where record.state == .hot && record.ip != nil {
            pushHosts(to: record, version: version, sandboxes: sandboxes)
        }
    }

    /// After a wake: a guest that slept through a change gets the current names.
    func hostsCatchUp(_ record: SandboxRecord) async {
        guard network != nil, let owner = record.userID, record.ip != nil else { return }
        let version = hostsVersion[owner] ?? 0
        guard version > 0, hostsApplied[record.id] != version, let sandboxes = try? await store.list(ownedBy: owner) else { return }
        pushHosts(to: record, version: version, sandboxes: sandboxes)
    }

    private func pushHosts(to record: SandboxRecord, version: Int, sandboxes: [SandboxRecord]) {
        let hosts = Dictionary(sandboxes.compactMap { r in r.ip.map { (r.name.rawValue, $0) } }, uniquingKeysWith: { a, _ in a })
        let (engine, id) = (engine, record.id)
        spawn { service in
            guard let guest = try? await engine.guest(for: id.rawValue) else { return }
            let settings = GuestSettings(env: [:], secrets: [:], files: [], initScript: nil, replaceEnvironment: false, hosts: hosts)
            if (try? await guest.configure(settings)) != nil { await service.hostsApplied(id, version) }
        }
    }

    private func hostsApplied(_ id: SandboxID, _ version: Int) {
        hostsApplied[id] = max(hostsApplied[id] ?? 0, version)
    }

    /// Before a cold sandbox's QEMU starts again: its tap (and namespace) exist, whatever happened to
    /// the host meanwhile.
    func ensureNetwork(_ record: SandboxRecord) async throws {
        guard record.ip != nil else { return }
        _ = try await attachNetwork(record)
    }

    /// An owner's I/O limits: their own, or the daemon's default.
    func ioLimits(owner: String) async throws -> IOLimits {
        try await store.user(id: owner)?.ioLimits ?? defaultIOLimits
    }

    /// Applies an owner's changed network limit at once (disk limits apply to sandboxes created later).
    public func applyNetworkLimit(owner: String) async throws {
        guard let network, let index = try await store.netIndex(ownerID: owner) else { return }
        try await network.shape(index: index, mbitPerSecond: try await ioLimits(owner: owner).netMbitPerSecond)
    }
}
