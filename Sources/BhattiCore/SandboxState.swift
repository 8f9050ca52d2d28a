/// Where a sandbox is in its life. The raw values are the API's `state` strings.
public enum SandboxState: String, Codable, Sendable, CaseIterable {
    case creating
    case hot
    case warm
    case cold
    case error
}

/// What happens to a sandbox.
public enum SandboxEvent: Equatable, Sendable, CaseIterable {
    case booted
    case bootFailed
    case vmmDied
    case paused
    case resumed
    case snapshotted
    case restored
    /// Its snapshot could not be restored, or kept failing to be taken.
    case thermalFailed
    /// A daemon restart found it: adopted (hot), on disk (cold), or gone.
    case adopted
    case foundCold
    /// `start` on a sandbox in `error`: booted afresh from its disk (its RAM's state lost).
    case rebooted
}

/// The pure transition table: which events are legal in which state, and where they lead.
public enum SandboxLifecycle {
    public struct InvalidTransition: Error, Equatable, Sendable {
        public let state: SandboxState
        public let event: SandboxEvent
        public init(state: SandboxState, event: SandboxEvent) {
            self.state = state
            self.event = event
        }
    }

    public static func next(_ state: SandboxState, on event: SandboxEvent) throws(InvalidTransition) -> SandboxState {
        switch (state, event) {
        case (.creating, .booted): .hot
        case (.creating, .bootFailed): .error
        case (.creating, .vmmDied), (.hot, .vmmDied), (.warm, .vmmDied): .error
        case (.hot, .paused): .warm
        case (.warm, .resumed): .hot
        case (.warm, .snapshotted), (.hot, .snapshotted): .cold
        case (.cold, .restored): .hot
        case (.error, .rebooted): .hot
        case (.hot, .thermalFailed), (.warm, .thermalFailed), (.cold, .thermalFailed): .error
        case (.creating, .adopted), (.hot, .adopted), (.warm, .adopted), (.cold, .adopted): .hot
        case (.creating, .foundCold), (.hot, .foundCold), (.warm, .foundCold), (.cold, .foundCold): .cold
        default: throw InvalidTransition(state: state, event: event)
        }
    }
}
