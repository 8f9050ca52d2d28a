/// Where a sandbox is in its life, with what that phase alone knows. Moments are durations on one
/// monotonic line (a `TimeLine`'s `now`). `state` is what the store and the API show.
public enum SandboxPhase: Equatable, Sendable {
    /// Recorded, its VM not yet answering.
    case creating
    /// Running since `since` (its idle clock starts there at the latest).
    case hot(since: Duration)
    /// vCPUs paused since `since`; `retry` when snapshots to disk have failed and are tried again.
    case warm(since: Duration, retry: SnapshotRetry? = nil)
    /// On disk: its snapshot (device state and RAM file) lies in the directory `snapshot`.
    case cold(snapshot: String)
    /// Its VM is gone or unusable, and why.
    case error(cause: String)
    /// A transition in flight: `event` is under way from `from`. Nothing else may start meanwhile.
    indirect case moving(from: SandboxPhase, on: SandboxEvent)

    /// The state the store and the API show: a transition in flight shows where it started.
    public var state: SandboxState {
        switch self {
        case .creating: .creating
        case .hot: .hot
        case .warm: .warm
        case .cold: .cold
        case .error: .error
        case .moving(let from, _): from.state
        }
    }

    /// Whether a transition is in flight.
    public var isMoving: Bool {
        if case .moving = self { return true }
        return false
    }

    /// The phase a store's state describes, for a sandbox found at `now` (a daemon start, or a state
    /// written by someone else): the clocks start now.
    public init(_ state: SandboxState, at now: Duration, snapshot: String, cause: String? = nil) {
        switch state {
        case .creating: self = .creating
        case .hot: self = .hot(since: now)
        case .warm: self = .warm(since: now)
        case .cold: self = .cold(snapshot: snapshot)
        case .error: self = .error(cause: cause ?? "unknown")
        }
    }

    /// Starts `event` from this phase: the transition table must allow it, and none may be in flight.
    public func begin(_ event: SandboxEvent) throws(SandboxLifecycle.InvalidTransition) -> SandboxPhase {
        if case .moving(let from, _) = self {
            throw SandboxLifecycle.InvalidTransition(state: from.state, event: event)
        }
        _ = try SandboxLifecycle.next(state, on: event)
        return .moving(from: self, on: event)
    }

    /// The phase `event` leads to from this one at `now` (the transition table's next state, with its
    /// data). A phase in flight finishes its own event (`event` must be it). `snapshot` is where a
    /// cold sandbox's files lie; `cause` says why an error happened.
    public func after(
        _ event: SandboxEvent, at now: Duration, snapshot: String, cause: String = ""
    ) throws(SandboxLifecycle.InvalidTransition) -> SandboxPhase {
        if case .moving(let from, let current) = self {
            guard current == event else { throw SandboxLifecycle.InvalidTransition(state: from.state, event: event) }
            return try from.after(event, at: now, snapshot: snapshot, cause: cause)
        }
        switch try SandboxLifecycle.next(state, on: event) {
        case .creating: return .creating
        case .hot: return .hot(since: now)
        case .warm: return .warm(since: now)
        case .cold: return .cold(snapshot: snapshot)
        case .error: return .error(cause: cause)
        }
    }

    /// A transition in flight that failed without changing anything: the phase it started from.
    public var abandoned: SandboxPhase {
        if case .moving(let from, _) = self { return from }
        return self
    }
}

/// Failed snapshots of a warm sandbox: how many, and when the next try is due.
public struct SnapshotRetry: Equatable, Sendable {
    public var failures: Int
    public var at: Duration
    public init(failures: Int, at: Duration) {
        self.failures = failures
        self.at = at
    }
}
