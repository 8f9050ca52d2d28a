/// Monotonic time over any `Clock<Duration>`, as durations since the clock was wrapped: state can keep
/// its moments (last use, warm since) without naming the clock's `Instant` type, and a test can hand
/// the daemon a `ManualClock` where a user's daemon runs on `ContinuousClock`.
public struct TimeLine: Sendable {
    private let read: @Sendable () -> Duration
    private let wait: @Sendable (Duration) async throws -> Void

    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        read = { origin.duration(to: clock.now) }
        wait = { moment in try await clock.sleep(until: origin.advanced(by: moment), tolerance: nil) }
    }

    /// Time since the clock was wrapped.
    public var now: Duration { read() }

    /// Sleeps until `moment` (a value of `now`); throws `CancellationError` when cancelled.
    public func sleep(until moment: Duration) async throws { try await wait(moment) }

    public func sleep(for duration: Duration) async throws { try await wait(read() + duration) }
}
