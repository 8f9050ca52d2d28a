/// What bhatti makes of E2B's lifecycle settings. Its pause keeps the sandbox's memory (a cold
/// snapshot), and any call wakes a paused sandbox, so `autoResume` is true for every sandbox whatever
/// a create asks, and a filesystem-only pause is refused rather than silently kept whole.
public enum LifecyclePolicy {
    /// What a sandbox's timeout does, from a create's (or a resume's) `autoPause` and
    /// `autoPauseMemory`; `autoPauseMemory` matters only with `autoPause`, as in E2B.
    public static func onTimeout(autoPause: Bool?, autoPauseMemory: Bool?) throws(LifecycleRefusal) -> SandboxLifecycle.OnTimeout {
        guard autoPause == true else { return .kill }
        guard autoPauseMemory != false else { throw .filesystemOnlyPause }
        return .pause
    }

    /// Whether a pause request can be honoured: only one that keeps memory (`memory` absent or true).
    public static func pause(memory: Bool?) throws(LifecycleRefusal) {
        if memory == false { throw .filesystemOnlyPause }
    }

    /// Whether a snapshot request can be honoured: the same rule as a pause's.
    public static func snapshot(memory: Bool?) throws(LifecycleRefusal) {
        if memory == false { throw .filesystemOnlySnapshot }
    }

    /// The lifecycle `get_info` reports.
    public static func reported(_ onTimeout: SandboxLifecycle.OnTimeout) -> SandboxLifecycle {
        SandboxLifecycle(autoResume: true, onTimeout: onTimeout)
    }
}

/// A lifecycle setting bhatti does not offer.
public enum LifecycleRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// E2B's `mode: "filesystem"` (`memory: false`): drop memory, keep the disk.
    case filesystemOnlyPause
    /// The same for a snapshot.
    case filesystemOnlySnapshot

    public var description: String {
        switch self {
        case .filesystemOnlyPause:
            "a filesystem-only pause (mode \"filesystem\") is not supported by bhatti: its pause keeps the sandbox's memory (mode \"full\")"
        case .filesystemOnlySnapshot:
            "a filesystem-only snapshot (mode \"filesystem\") is not supported by bhatti: its snapshots keep the sandbox's memory (mode \"full\")"
        }
    }
}
