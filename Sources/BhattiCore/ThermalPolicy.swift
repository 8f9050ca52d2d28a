/// When sandboxes cool down. Durations of nil never cool.
public struct ThermalPolicy: Sendable, Equatable {
    public var warmAfter: Duration?
    public var coldAfter: Duration?
    /// Guest CPU use (busy ticks / all ticks over the probe window) at or above which it is not idle.
    public var busyThreshold: Double
    /// How long the guest's CPU is watched before an idle hot sandbox is paused.
    public var probeWindow: Duration
    /// Failed snapshots are retried this many times (with doubling waits) before the sandbox is marked `error`.
    public var maxSnapshotAttempts: Int
    /// At most this many sandboxes are snapshotted at once on shutdown.
    public var shutdownParallelism: Int
    /// Keep a booted template snapshot per size, so creates restore instead of booting.
    public var templates: Bool

    public init(
        warmAfter: Duration? = .seconds(30), coldAfter: Duration? = .seconds(30 * 60), busyThreshold: Double = 0.05,
        probeWindow: Duration = .milliseconds(500), maxSnapshotAttempts: Int = 4, shutdownParallelism: Int = 4,
        templates: Bool = true
    ) {
        self.templates = templates
        self.warmAfter = warmAfter
        self.coldAfter = coldAfter
        self.busyThreshold = busyThreshold
        self.probeWindow = probeWindow
        self.maxSnapshotAttempts = maxSnapshotAttempts
        self.shutdownParallelism = shutdownParallelism
    }

    /// What the idle timer does for a sandbox in `phase` with `activity`, at `now` (all moments on one
    /// monotonic line, as durations since an origin). Pure: the same inputs give the same answer.
    public func decide(_ phase: SandboxPhase, _ activity: SandboxActivity, now: Duration) -> LifecycleAction {
        if activity.keepHot { return .none }
        switch phase {
        case .hot(let since):
            guard let warmAfter else { return .none }
            // Something streams: nothing is decided before a whole warm-after from now.
            if activity.holds > 0 { return .wait(until: now + warmAfter) }
            let due = max(since, activity.lastUse) + warmAfter
            return due > now ? .wait(until: due) : .pause
        case .warm(let since, let retry):
            guard let coldAfter else { return .none }
            let due = retry?.at ?? since + coldAfter
            return due > now ? .wait(until: due) : .snapshot
        case .creating, .cold, .error, .moving:
            // Nothing to time: a creation or a transition decides again when it ends.
            return .none
        }
    }

    /// A warm sandbox's snapshot failed at `now` with `cause`: it stays warm and tries again after
    /// 2, 4, 8… seconds, or, at the `maxSnapshotAttempts`-th failure, is in `error`. Phases other
    /// than warm are returned as they are (an explicit `stop` reports its failure to its caller instead).
    public func snapshotFailed(_ phase: SandboxPhase, cause: String, now: Duration) -> SandboxPhase {
        guard case .warm(let since, let retry) = phase else { return phase }
        let failures = (retry?.failures ?? 0) + 1
        if failures >= maxSnapshotAttempts {
            return .error(cause: "snapshot failed \(failures) times: \(cause)")
        }
        return .warm(since: since, retry: SnapshotRetry(failures: failures, at: now + .seconds(1 << failures)))
    }
}

/// What the idle timer of one sandbox does next (see `ThermalPolicy.decide`).
public enum LifecycleAction: Equatable, Sendable {
    /// Nothing will happen on its own: no timer runs.
    case none
    /// Look again at this moment.
    case wait(until: Duration)
    /// Idle past warm-after: pause it, unless the guest's own CPU says it is busy.
    case pause
    /// Warm past cold-after (or its retry is due): snapshot it to disk.
    case snapshot
}

/// How a sandbox has been used, as the idle clock sees it.
public struct SandboxActivity: Equatable, Sendable {
    /// The last API use (a request, the end of a stream).
    public var lastUse: Duration
    /// Open streams, shells and requests in flight: while above zero the sandbox stays hot.
    public var holds: Int
    /// The sandbox's `keep_hot`: it never cools.
    public var keepHot: Bool

    public init(lastUse: Duration, holds: Int = 0, keepHot: Bool = false) {
        self.lastUse = lastUse
        self.holds = holds
        self.keepHot = keepHot
    }
}
