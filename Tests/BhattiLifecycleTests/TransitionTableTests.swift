import BhattiCore
import Testing

/// The legal transitions, every row: each (state, event) pair either leads where the table says or
/// is refused. A new state or event (both are `CaseIterable`) shows up here as rows to decide.
@Suite("Lifecycle transition table")
struct TransitionTableTests {
    /// Every legal row. Anything not listed must throw.
    static let legal: [SandboxState: [SandboxEvent: SandboxState]] = [
        .creating: [.booted: .hot, .bootFailed: .error, .vmmDied: .error, .adopted: .hot, .foundCold: .cold],
        .hot: [.vmmDied: .error, .paused: .warm, .snapshotted: .cold, .thermalFailed: .error, .adopted: .hot, .foundCold: .cold],
        .warm: [.vmmDied: .error, .resumed: .hot, .snapshotted: .cold, .thermalFailed: .error, .adopted: .hot, .foundCold: .cold],
        .cold: [.restored: .hot, .thermalFailed: .error, .adopted: .hot, .foundCold: .cold],
        .error: [.rebooted: .hot],
    ]

    static var pairs: [(SandboxState, SandboxEvent)] {
        SandboxState.allCases.flatMap { state in SandboxEvent.allCases.map { (state, $0) } }
    }

    @Test("every (state, event) pair", arguments: pairs)
    func row(state: SandboxState, event: SandboxEvent) {
        if let expected = Self.legal[state]?[event] {
            #expect((try? SandboxLifecycle.next(state, on: event)) == expected)
        } else {
            #expect(throws: SandboxLifecycle.InvalidTransition(state: state, event: event)) {
                try SandboxLifecycle.next(state, on: event)
            }
        }
    }

    @Test("the table lists 22 legal rows of 55")
    func counts() {
        #expect(Self.pairs.count == 55)
        #expect(Self.legal.values.map(\.count).reduce(0, +) == 22)
        #expect(Self.pairs.filter { (try? SandboxLifecycle.next($0.0, on: $0.1)) != nil }.count == 22)
    }

    /// Each legal row again on phases: the phase it leads to carries that phase's own data.
    @Test("phases after every legal event carry their data", arguments: pairs)
    func phaseRow(state: SandboxState, event: SandboxEvent) throws {
        let now = Duration.seconds(100)
        let phase = SandboxPhase(state, at: .seconds(40), snapshot: "/s/old", cause: "was broken")
        guard let expected = Self.legal[state]?[event] else {
            #expect(throws: SandboxLifecycle.InvalidTransition(state: state, event: event)) {
                try phase.after(event, at: now, snapshot: "/s/new", cause: "why")
            }
            #expect(throws: SandboxLifecycle.InvalidTransition(state: state, event: event)) { try phase.begin(event) }
            return
        }
        let next = try phase.after(event, at: now, snapshot: "/s/new", cause: "why")
        #expect(next.state == expected)
        switch expected {
        case .hot: #expect(next == .hot(since: now))
        case .warm: #expect(next == .warm(since: now))
        case .cold: #expect(next == .cold(snapshot: "/s/new"))
        case .error: #expect(next == .error(cause: "why"))
        case .creating: Issue.record("no event leads back to creating")
        }
        // The same event begun and finished: the same phase, and while in flight it shows where it started.
        let moving = try phase.begin(event)
        #expect(moving == .moving(from: phase, on: event))
        #expect(moving.state == state)
        #expect(moving.isMoving)
        #expect(try moving.after(event, at: now, snapshot: "/s/new", cause: "why") == next)
        #expect(moving.abandoned == phase)
    }
}

@Suite("Sandbox phases")
struct SandboxPhaseTests {
    @Test("a phase read from the store starts its clocks at the moment it is found")
    func fromState() {
        let now = Duration.seconds(7)
        let table: [(SandboxState, SandboxPhase)] = [
            (.creating, .creating),
            (.hot, .hot(since: now)),
            (.warm, .warm(since: now)),
            (.cold, .cold(snapshot: "/d")),
            (.error, .error(cause: "gone")),
        ]
        for (state, phase) in table {
            let found = SandboxPhase(state, at: now, snapshot: "/d", cause: "gone")
            #expect(found == phase)
            #expect(found.state == state)
            #expect(!found.isMoving)
            #expect(found.abandoned == found)
        }
        #expect(SandboxPhase(.error, at: now, snapshot: "/d") == .error(cause: "unknown"))
    }

    @Test("one transition at a time: a phase in flight refuses to begin another, and finishes only its own")
    func oneAtATime() throws {
        let moving = try SandboxPhase.hot(since: .zero).begin(.paused)
        #expect(throws: SandboxLifecycle.InvalidTransition(state: .hot, event: .paused)) { try moving.begin(.paused) }
        #expect(throws: SandboxLifecycle.InvalidTransition(state: .hot, event: .snapshotted)) { try moving.begin(.snapshotted) }
        #expect(throws: SandboxLifecycle.InvalidTransition(state: .hot, event: .snapshotted)) {
            try moving.after(.snapshotted, at: .seconds(1), snapshot: "/d")
        }
        #expect(try moving.after(.paused, at: .seconds(1), snapshot: "/d") == .warm(since: .seconds(1)))
    }

    @Test("a warm phase's snapshot retries leave it warm; the state is still warm")
    func retryStaysWarm() {
        let phase = SandboxPhase.warm(since: .seconds(30), retry: SnapshotRetry(failures: 2, at: .seconds(1840)))
        #expect(phase.state == .warm)
        #expect(phase != .warm(since: .seconds(30)))
    }
}
