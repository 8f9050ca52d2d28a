import BhattiCore
import Testing

/// The idle policy as tables, at the settings users run (warm after 30 s, cold after 30 min): the
/// clock is a value passed in, so minutes of idleness cost nothing and nothing sleeps.
@Suite("Idle policy decisions")
struct ThermalPolicyTests {
    static let users = ThermalPolicy()
    static func s(_ n: Int64) -> Duration { .seconds(n) }
    static let minute = Duration.seconds(60)

    struct Row: CustomTestStringConvertible, Sendable {
        var what: String
        var phase: SandboxPhase
        var activity: SandboxActivity
        var now: Duration
        var expected: LifecycleAction
        var testDescription: String { what }
    }

    static let rows: [Row] = [
        // Hot: idle from the later of its becoming hot and its last use, for 30 s, then paused.
        Row(
            what: "hot, just used: look again 30 s on", phase: .hot(since: .zero), activity: .init(lastUse: .zero), now: .zero,
            expected: .wait(until: s(30))),
        Row(
            what: "hot, 29 s idle: not yet", phase: .hot(since: .zero), activity: .init(lastUse: .zero), now: s(29),
            expected: .wait(until: s(30))),
        Row(what: "hot, 30 s idle: pause", phase: .hot(since: .zero), activity: .init(lastUse: .zero), now: s(30), expected: .pause),
        Row(
            what: "hot, 31 s idle (a late timer): pause", phase: .hot(since: .zero), activity: .init(lastUse: .zero), now: s(31),
            expected: .pause),
        Row(
            what: "hot, used at 10 s: idle counts from the use", phase: .hot(since: .zero), activity: .init(lastUse: s(10)), now: s(30),
            expected: .wait(until: s(40))),
        Row(
            what: "hot, used at 10 s, 30 s later: pause", phase: .hot(since: .zero), activity: .init(lastUse: s(10)), now: s(40),
            expected: .pause),
        Row(
            what: "woken at 100 s, last used before: idle counts from the wake", phase: .hot(since: s(100)), activity: .init(lastUse: s(5)),
            now: s(100), expected: .wait(until: s(130))),
        Row(
            what: "woken at 100 s, at 130 s: pause", phase: .hot(since: s(100)), activity: .init(lastUse: s(5)), now: s(130),
            expected: .pause),
        Row(
            what: "hot and held (a stream): 30 s from now whatever the last use", phase: .hot(since: .zero),
            activity: .init(lastUse: .zero, holds: 1), now: s(300), expected: .wait(until: s(330))),
        Row(
            what: "hot, two holds", phase: .hot(since: .zero), activity: .init(lastUse: .zero, holds: 2), now: s(31),
            expected: .wait(until: s(61))),
        Row(
            what: "hot, keep_hot: no timer", phase: .hot(since: .zero), activity: .init(lastUse: .zero, keepHot: true), now: s(3600),
            expected: .none),
        // Warm: 30 minutes from the pause, then snapshotted.
        Row(
            what: "warm, just paused", phase: .warm(since: s(30)), activity: .init(lastUse: .zero), now: s(30),
            expected: .wait(until: s(30) + minute * 30)),
        Row(
            what: "warm, a second short of 30 min", phase: .warm(since: s(30)), activity: .init(lastUse: .zero), now: s(29) + minute * 30,
            expected: .wait(until: s(30) + minute * 30)),
        Row(
            what: "warm 30 min: snapshot", phase: .warm(since: s(30)), activity: .init(lastUse: .zero), now: s(30) + minute * 30,
            expected: .snapshot),
        Row(
            what: "warm, API use does not count (metadata routes never wake)", phase: .warm(since: s(30)), activity: .init(lastUse: s(600)),
            now: s(30) + minute * 30, expected: .snapshot),
        Row(
            what: "warm, a held stream does not pin it", phase: .warm(since: s(30)), activity: .init(lastUse: .zero, holds: 1),
            now: s(30) + minute * 30, expected: .snapshot),
        Row(
            what: "warm, keep_hot: no timer (an edit wakes it)", phase: .warm(since: s(30)), activity: .init(lastUse: .zero, keepHot: true),
            now: minute * 60, expected: .none),
        Row(
            what: "warm after a failed snapshot: the retry's moment, not cold-after",
            phase: .warm(since: s(30), retry: SnapshotRetry(failures: 1, at: s(1832))), activity: .init(lastUse: .zero), now: s(1831),
            expected: .wait(until: s(1832))),
        Row(
            what: "warm, retry due: snapshot", phase: .warm(since: s(30), retry: SnapshotRetry(failures: 1, at: s(1832))),
            activity: .init(lastUse: .zero), now: s(1832), expected: .snapshot),
        // Nothing times the rest.
        Row(what: "creating", phase: .creating, activity: .init(lastUse: .zero), now: minute * 60, expected: .none),
        Row(what: "cold", phase: .cold(snapshot: "/d"), activity: .init(lastUse: .zero), now: minute * 60, expected: .none),
        Row(what: "error", phase: .error(cause: "x"), activity: .init(lastUse: .zero), now: minute * 60, expected: .none),
        Row(
            what: "a pause in flight", phase: .moving(from: .hot(since: .zero), on: .paused), activity: .init(lastUse: .zero),
            now: minute * 60, expected: .none),
        Row(
            what: "a snapshot in flight", phase: .moving(from: .warm(since: .zero), on: .snapshotted), activity: .init(lastUse: .zero),
            now: minute * 60, expected: .none),
    ]

    @Test("at warm after 30 s, cold after 30 min", arguments: rows)
    func decision(row: Row) {
        #expect(Self.users.decide(row.phase, row.activity, now: row.now) == row.expected)
    }

    @Test("a tier turned off never fires")
    func tiersOff() {
        let never = ThermalPolicy(warmAfter: nil, coldAfter: nil)
        #expect(never.decide(.hot(since: .zero), .init(lastUse: .zero), now: Self.minute * 60) == .none)
        #expect(never.decide(.warm(since: .zero), .init(lastUse: .zero), now: Self.minute * 60) == .none)
        let warmOnly = ThermalPolicy(warmAfter: .seconds(30), coldAfter: nil)
        #expect(warmOnly.decide(.hot(since: .zero), .init(lastUse: .zero), now: .seconds(30)) == .pause)
        #expect(warmOnly.decide(.warm(since: .zero), .init(lastUse: .zero), now: Self.minute * 600) == .none)
        let coldOnly = ThermalPolicy(warmAfter: nil, coldAfter: .seconds(60))
        #expect(coldOnly.decide(.hot(since: .zero), .init(lastUse: .zero), now: Self.minute * 600) == .none)
        #expect(coldOnly.decide(.warm(since: .zero), .init(lastUse: .zero), now: .seconds(60)) == .snapshot)
    }

    /// A failed snapshot keeps the sandbox warm and tries again after 2, 4, 8 s; the fourth failure
    /// (the default `maxSnapshotAttempts`) puts it in error with the cause.
    @Test("failed snapshots back off, then give up with the cause")
    func snapshotBackOff() {
        let policy = Self.users
        let since = Duration.seconds(30)
        var phase = SandboxPhase.warm(since: since)
        var now = since + Self.minute * 30
        for (failures, wait) in [(1, 2), (2, 4), (3, 8)] as [(Int, Int64)] {
            #expect(policy.decide(phase, .init(lastUse: .zero), now: now) == .snapshot)
            phase = policy.snapshotFailed(phase, cause: "disk full", now: now)
            #expect(phase == .warm(since: since, retry: SnapshotRetry(failures: failures, at: now + .seconds(wait))))
            #expect(policy.decide(phase, .init(lastUse: .zero), now: now) == .wait(until: now + .seconds(wait)))
            now += .seconds(wait)
        }
        #expect(policy.decide(phase, .init(lastUse: .zero), now: now) == .snapshot)
        phase = policy.snapshotFailed(phase, cause: "disk full", now: now)
        #expect(phase == .error(cause: "snapshot failed 4 times: disk full"))
        #expect(policy.decide(phase, .init(lastUse: .zero), now: now) == .none)
    }

    @Test("a snapshot failure outside warm changes nothing")
    func failureOutsideWarm() {
        for phase: SandboxPhase in [.hot(since: .zero), .cold(snapshot: "/d"), .error(cause: "x"), .creating] {
            #expect(Self.users.snapshotFailed(phase, cause: "x", now: .seconds(1)) == phase)
        }
    }

    @Test("one attempt allowed: the first failure is the last")
    func oneAttempt() {
        let policy = ThermalPolicy(maxSnapshotAttempts: 1)
        #expect(policy.snapshotFailed(.warm(since: .zero), cause: "io", now: .seconds(5)) == .error(cause: "snapshot failed 1 times: io"))
    }
}
