import BhattiCore
import BhattiSystem
import Synchronization

/// Releases the sandbox's hold when the relay ends, or when the tunnel is dropped without running
/// (the server shut down first): a proxied sandbox must not stay pinned hot by a relay that never ran.
final class HotLease: Sendable {
    private let service: SandboxService
    private let id: SandboxID
    private let ended = Atomic<Bool>(false)

    init(service: SandboxService, id: SandboxID) {
        self.service = service
        self.id = id
    }

    /// The relay ended: released before the tunnel's task ends.
    func end() async {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await service.release(id)
    }

    /// Dropped unrun: nothing can wait here, so the service's own worker releases it.
    deinit {
        guard !ended.load(ordering: .acquiring) else { return }
        let (service, id) = (service, id)
        service.releases.submit { await service.release(id) }
    }
}
