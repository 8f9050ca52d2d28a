import BhattiCore
import BhattiEngine
import BhattiStore

// MARK: each user's DNS

extension SandboxService {
    /// Tells the owner's DNS responder the owner's sandbox names (answered as `<name>` and
    /// `<name>.bhatti`).
    func publishNames(owner: String, sandboxes: [SandboxRecord]) async {
        guard let network, let index = try? await store.netIndex(ownerID: owner) else { return }
        network.setNames(
            index: index, Dictionary(sandboxes.compactMap { r in r.ip.map { (r.name.rawValue, $0) } }, uniquingKeysWith: { a, _ in a }))
    }

    /// At start: every user network that still exists gets this daemon's host table, serves DNS again
    /// with its names, and has its egress table applied again (sandboxes adopted after a restart keep
    /// running without their network being set up anew; this also brings a network made by an older
    /// daemon up to today's rules).
    public func resumeNetworks() async {
        guard let network, let all = try? await store.list() else { return }
        let byOwner = Dictionary(grouping: all.filter { $0.userID != nil && $0.ip != nil }, by: { $0.userID! })
        for (owner, sandboxes) in byOwner {
            guard let index = try? await store.netIndex(ownerID: owner) else { continue }
            // The names first: a network gone with a host reboot comes back at its first wake, and its
            // DNS answers them from then on.
            await publishNames(owner: owner, sandboxes: sandboxes)
            do {
                guard try await network.resume(index: index) else { continue }
                let rules = sandboxes.map { NetworkManager.Egress(address: $0.ip!, deny: $0.egress.deny, allow: $0.egress.allow) }
                try await network.applyEgress(index: index, rules: rules)
            } catch {
                log.warning("daemon.network_resume_failed", ["net.index": String(index), "error": "\(error)"])
            }
        }
    }
}
