import BhattiCore
import BhattiEngine
import BhattiStore

/// Create and destroy kept apart: a destroy that races a create, and the destroy itself.
extension SandboxService {
    /// Called by a create just before it records its sandbox hot: throws if a destroy asked it to give
    /// up meanwhile, so the create's own failure path takes the VM, tap and files down.
    func checkStillWanted(_ record: SandboxRecord) throws {
        // A create's task is cancelled only by a destroy (see `destroy`).
        if Task.isCancelled {
            throw BhattiError(.invalidState, "sandbox \(record.name) was destroyed while it was being created")
        }
    }

    /// The destroy proper, run as the sandbox's transition (so no wake or snapshot runs beside it):
    /// the VM and its files, the tap, then the record.
    func destroyNow(_ record: SandboxRecord) async throws {
        await supervisor(record.id).end()
        unrecorded[record.id] = nil
        await engine.destroy(id: record.id.rawValue)
        await detachNetwork(record)
        try await store.delete(record.id)
    }
}
