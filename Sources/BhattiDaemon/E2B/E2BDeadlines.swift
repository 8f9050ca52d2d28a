import BhattiCore
import BhattiStore
import Foundation

/// E2B's sandbox timeouts: a sandbox made through the E2B API is destroyed when its timeout passes
/// (`timeout` at create, `set_timeout`, and a connect's own, which only extends it). bhatti's idle
/// tiers go on meanwhile: a sandbox may cool long before its deadline. An E2B pause clears the
/// deadline, as a paused E2B sandbox waits to be resumed. Each deadline is also written to the
/// store as a wall-clock time, so a restarted daemon keeps it (`restore`); one that passed while the
/// daemon was down fires at once.
actor E2BDeadlines {
    struct Entry {
        var at: Duration
        var owner: String
    }

    private let time: TimeLine
    private let store: SandboxStore
    private let expire: @Sendable (SandboxRef) async -> Bool
    private let scheduled: @Sendable (String) -> Void
    private var entries: [String: Entry] = [:]
    /// The sleep until the earliest deadline; replaced when an earlier one arrives.
    private var sleeper: Task<Void, Never>?
    private var sleepingUntil: Duration?
    private var stopped = false

    /// `expire` destroys or pauses the sandbox (a missing one is done with); false when it could
    /// not, and the deadline fires again `retryDelay` later rather than leaving it to run untimed.
    /// `scheduled` hears of each sandbox given a deadline (E2B considers it running: its metrics are
    /// sampled).
    init(
        time: TimeLine, store: SandboxStore, scheduled: @escaping @Sendable (String) -> Void = { _ in },
        expire: @escaping @Sendable (SandboxRef) async -> Bool
    ) {
        self.time = time
        self.store = store
        self.scheduled = scheduled
        self.expire = expire
    }

    /// How long after a failed expiry it is tried again.
    static let retryDelay: Duration = .seconds(60)

    /// Schedules the deadlines the store kept from before a restart.
    func restore() async throws {
        for row in try await store.e2bDeadlines() {
            let left = max(0, row.deadline.timeIntervalSinceNow)
            entries[row.id.rawValue] = Entry(at: time.now + .milliseconds(Int64(left * 1000)), owner: row.owner ?? "")
        }
        reschedule()
    }

    /// The sandbox ends `seconds` from now. `extendOnly`: a later deadline already set stays.
    func set(_ id: String, owner: String, seconds: Int, extendOnly: Bool = false) async throws {
        let at = time.now + .seconds(max(0, seconds))
        if extendOnly, let current = entries[id], current.at >= at { return }
        try await persist(id, Date().addingTimeInterval(TimeInterval(max(0, seconds))))
        entries[id] = Entry(at: at, owner: owner)
        reschedule()
        scheduled(id)
    }

    func clear(_ id: String) async throws {
        try await persist(id, nil)
        entries[id] = nil
    }

    private func persist(_ id: String, _ deadline: Date?) async throws {
        guard let sandbox = SandboxID(rawValue: id) else { return }
        try await store.setE2BDeadline(sandbox, deadline)
    }

    /// How long until the sandbox's deadline; nil when it has none.
    func remaining(_ id: String) -> Duration? { entries[id].map { $0.at - time.now } }

    /// Destroys every sandbox whose deadline has passed, then sleeps until the next one.
    private func reschedule() {
        guard !stopped, let next = entries.values.map(\.at).min() else { return }
        if let sleepingUntil, sleepingUntil <= next, sleeper != nil { return }
        sleeper?.cancel()
        sleepingUntil = next
        let time = self.time
        sleeper = Task {
            do { try await time.sleep(until: next) } catch { return }
            await self.fire()
        }
    }

    /// Runs on the sleeper itself, which stays `sleeper` until the next one replaces it, so `stop`
    /// waits for a destroy under way.
    private func fire() async {
        sleepingUntil = nil
        let now = time.now
        let due = entries.filter { $0.value.at <= now }
        for (id, entry) in due {
            entries[id] = nil
            if !(await expire(SandboxRef(id, owner: entry.owner))), entries[id] == nil {
                entries[id] = Entry(at: time.now + Self.retryDelay, owner: entry.owner)
            }
        }
        reschedule()
    }

    /// Stops the sleeper and waits for it: the daemon's stop leaves no task behind.
    func stop() async {
        stopped = true
        let task = sleeper
        task?.cancel()
        await task?.value
        sleeper = nil
    }
}
