import Dispatch
import Synchronization

/// Jobs run at deadlines by one thread. Setting or cancelling a deadline takes a lock and wakes
/// nothing unless the new deadline is the earliest, which suits a timeout that guards every request
/// and almost never fires: a Dispatch timer per exec woke Dispatch's manager thread each time (seen
/// with perf), a thread the busy host then had to schedule mid-request.
public final class Deadlines: Sendable {
    /// The process's one deadline thread, started on first use.
    public static let shared = Deadlines()

    /// A set deadline, for `cancel`.
    public struct Token: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let at: ContinuousClock.Instant
        let job: @Sendable () -> Void
    }

    private struct State {
        var nextID: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var started = false
        /// When the thread wakes next by itself; nil while it waits for a signal.
        var wakeAt: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)
    /// Longer delays are cut to this (a deadline past it would overflow the clock's arithmetic).
    static let longest = Duration.seconds(100 * 365 * 86_400)

    public init() {}

    /// Runs `job` on the deadline thread once `delay` has passed, unless cancelled first. Jobs are
    /// short (they would hold back later deadlines).
    @discardableResult
    public func after(_ delay: Duration, _ job: @escaping @Sendable () -> Void) -> Token {
        let at = ContinuousClock.now + min(delay, Self.longest)
        let (id, start, wake) = state.withLock { s -> (UInt64, Bool, Bool) in
            s.nextID += 1
            s.entries[s.nextID] = Entry(at: at, job: job)
            if !s.started {
                s.started = true
                return (s.nextID, true, false)
            }
            // Only a deadline earlier than the thread's next wake-up needs it awake now.
            guard s.wakeAt.map({ at < $0 }) ?? true else { return (s.nextID, false, false) }
            s.wakeAt = at
            return (s.nextID, false, true)
        }
        if start { startThread(name: "bhatti-deadlines") { [self] in run() } }
        if wake { signal.signal() }
        return Token(id: id)
    }

    /// Drops the deadline; true when its job had not run (and now never will).
    @discardableResult
    public func cancel(_ token: Token) -> Bool {
        state.withLock { $0.entries.removeValue(forKey: token.id) != nil }
    }

    private func run() {
        while true {
            let (due, next) = state.withLock { s -> ([@Sendable () -> Void], ContinuousClock.Instant?) in
                let now = ContinuousClock.now
                let due = s.entries.filter { $0.value.at <= now }.sorted { $0.value.at < $1.value.at }
                for (id, _) in due { s.entries[id] = nil }
                s.wakeAt = s.entries.values.map(\.at).min()
                return (due.map(\.value.job), s.wakeAt)
            }
            for job in due { job() }
            guard let next else {
                signal.wait()
                continue
            }
            let (seconds, attoseconds) = (next - ContinuousClock.now).components
            let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
            _ = signal.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds)))
        }
    }
}
