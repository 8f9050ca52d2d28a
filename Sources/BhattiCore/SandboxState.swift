/// Where a sandbox is in its life. The raw values are the API's `state` strings.
public enum SandboxState: String, Codable, Sendable, CaseIterable {
    case creating
    case hot
    case warm
    case cold
    case error
}

/// What happens to a sandbox.
public enum SandboxEvent: Equatable, Sendable {
    case booted
    case bootFailed
    case vmmDied
    case paused
    case resumed
    case snapshotted
    case restored
}

/// The pure transition table: which events are legal in which state, and where they lead.
public enum SandboxLifecycle {
    public struct InvalidTransition: Error, Equatable, Sendable {
        public let state: SandboxState
        public let event: SandboxEvent
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
        default: throw InvalidTransition(state: state, event: event)
        }
    }
}
