import BhattiSystem
import Glibc
import Synchronization

/// Delivers each child's termination to whoever spawned it.
///
/// As PID 1 the agent must reap every process (orphans are re-parented to it), so one thread waits
/// for SIGCHLD and reaps with waitpid(-1). Statuses that arrive before the spawner registers are kept
/// until it does. Outside PID 1 (tests) each child gets its own waiting thread instead, so the test
/// process's other children are left alone.
final class ChildWaiter: Sendable {
    typealias Callback = @Sendable (Termination) -> Void
    private struct State {
        var waiting: [Int32: Callback] = [:]
        var early: [Int32: Termination] = [:]
    }
    private let state = Mutex(State())
    private let reapsAll: Bool

    init(reapsAll: Bool) {
        self.reapsAll = reapsAll
        if reapsAll {
            // SIGCHLD arrives as a byte on a pipe; without it the reaper could not sleep between children.
            let wakeups = try? Signals.pipe(for: SIGCHLD)
            startThread(name: "lohar-reaper") { [self] in reapLoop(wakeups) }
        }
    }

    /// Calls `callback` once `pid` has terminated.
    func onExit(of pid: Int32, _ callback: @escaping Callback) {
        if !reapsAll {
            startThread(name: "lohar-wait") {
                let t = (try? waitForExit(pid: pid)) ?? .exited(255)
                callback(t)
            }
            return
        }
        let done: Termination? = state.withLock { s in
            if let t = s.early.removeValue(forKey: pid) { return t }
            s.waiting[pid] = callback
            return nil
        }
        if let done { callback(done) }
    }

    private func reapLoop(_ wakeups: FileDescriptor?) {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 {
                let t = Termination(waitStatus: status)
                let callback: Callback? = state.withLock { s in
                    if let c = s.waiting.removeValue(forKey: pid) { return c }
                    // A process nobody waits for (an orphan, or a spawn that failed before exec).
                    // Keep a bounded record in case its spawner registers late.
                    if s.early.count > 4096 { s.early.removeAll() }
                    s.early[pid] = t
                    return nil
                }
                callback?(t)
                continue
            }
            guard let wakeups, let bytes = try? wakeups.read(upTo: 64), !bytes.isEmpty else {
                usleep(10_000)  // no pipe: fall back to polling
                continue
            }
        }
    }
}
