import BhattiCore
import BhattiE2B
import BhattiEngine
import Foundation

/// envd's polling watchers (`CreateWatcher`, `GetWatcherEvents`, `RemoveWatcher`, which the sync
/// SDK's `watch_dir` uses): each a guest watch whose events collect here until the next poll, the
/// sandbox held hot while it is open. Owned by the daemon: its stop closes every one.
actor E2BWatchers {
    private struct Watcher {
        let sandbox: String
        let watch: any GuestWatch
        let release: @Sendable () async -> Void
        var events: [EnvdFilesystem.FilesystemEvent] = []
        /// Why the watch ended (the guest's refusal, events lost), told at the next poll.
        var failure: String?
        var task: Task<Void, Never>?
    }

    /// More events than this between two polls is an overflow: the poll fails, as envd's does.
    static let maxBuffered = 10_000

    private var watchers: [String: Watcher] = [:]
    private var stopped = false

    /// Takes `watch` in; `release` ends the sandbox's hold once the watcher is gone.
    func add(sandbox: String, watch: any GuestWatch, release: @escaping @Sendable () async -> Void) async -> String? {
        guard !stopped else {
            watch.close()
            await release()
            return nil
        }
        let id = UUID().uuidString.lowercased()
        watchers[id] = Watcher(sandbox: sandbox, watch: watch, release: release)
        watchers[id]?.task = Task {
            do {
                for try await event in watch.events { self.append(id, E2BEnvd.filesystemEvent(event)) }
                self.fail(id, "the watch ended")
            } catch {
                self.fail(id, (error as? GuestError)?.message ?? "the watch failed")
            }
        }
        return id
    }

    /// The events since the last poll; a watcher that failed says why once, then is gone.
    func take(sandbox: String, id: String) async throws(ConnectError) -> [EnvdFilesystem.FilesystemEvent] {
        guard var watcher = watchers[id], watcher.sandbox == sandbox else { throw ConnectError(.notFound, "no watcher \(id)") }
        if let failure = watcher.failure, watcher.events.isEmpty {
            await remove(sandbox: sandbox, id: id)
            throw ConnectError(.failedPrecondition, failure)
        }
        let events = watcher.events
        watcher.events = []
        watchers[id] = watcher
        return events
    }

    /// Closes the watch in the guest and ends the hold; false when there is no such watcher.
    @discardableResult
    func remove(sandbox: String, id: String) async -> Bool {
        guard let watcher = watchers[id], watcher.sandbox == sandbox else { return false }
        watchers[id] = nil
        watcher.watch.close()
        watcher.task?.cancel()
        await watcher.task?.value
        await watcher.release()
        return true
    }

    /// Closes every watcher: the daemon's stop leaves none behind.
    func stop() async {
        stopped = true
        for (id, watcher) in watchers { await remove(sandbox: watcher.sandbox, id: id) }
    }

    private func append(_ id: String, _ event: EnvdFilesystem.FilesystemEvent) {
        guard watchers[id]?.failure == nil else { return }
        if (watchers[id]?.events.count ?? 0) >= Self.maxBuffered {
            watchers[id]?.failure = "more than \(Self.maxBuffered) events since the last poll: events were lost"
            watchers[id]?.watch.close()
            return
        }
        watchers[id]?.events.append(event)
    }

    private func fail(_ id: String, _ message: String) {
        if watchers[id]?.failure == nil { watchers[id]?.failure = message }
    }
}
