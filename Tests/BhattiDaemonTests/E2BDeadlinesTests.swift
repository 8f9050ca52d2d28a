import BhattiCore
import BhattiStore
import Foundation
import Synchronization
import Testing

@testable import BhattiDaemon

/// The deadline table on a clock the test moves: an expiry that fails is tried again, not dropped.
@Suite("E2B deadlines")
struct E2BDeadlinesTests {
    /// Waits until the clock has a sleeper due at `at` (the deadline's), so the advance meets it.
    func sleeperAt(_ clock: ManualClock, _ at: ManualClock.Instant) async throws -> Bool {
        let giveUp = ContinuousClock.now + .seconds(60)
        while clock.nextDeadline != at, ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(5)) }
        return clock.nextDeadline == at
    }

    @Test("a failed expiry fires again retryDelay later; a successful one is not repeated")
    func retry() async throws {
        let clock = ManualClock()
        let t0 = clock.now
        let calls = Mutex(0)
        // Fails the first time (a pause that could not snapshot), succeeds the second.
        let deadlines = E2BDeadlines(time: TimeLine(clock), store: try SandboxStore(path: ":memory:")) { _ in
            calls.withLock {
                $0 += 1
                return $0 > 1
            }
        }
        // No such sandbox in the store: nothing is persisted, the table still schedules it.
        try await deadlines.set("0123456789abcdef", owner: "ann", seconds: 300)
        #expect(try await sleeperAt(clock, t0.advanced(by: .seconds(300))))
        clock.advance(by: .seconds(300))
        let retryAt = t0.advanced(by: .seconds(300) + E2BDeadlines.retryDelay)
        #expect(try await sleeperAt(clock, retryAt), "the failed expiry was dropped")
        #expect(calls.withLock { $0 } == 1)
        clock.advance(by: E2BDeadlines.retryDelay)
        let giveUp = ContinuousClock.now + .seconds(60)
        while calls.withLock({ $0 }) < 2, ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(5)) }
        #expect(calls.withLock { $0 } == 2)
        #expect(await deadlines.remaining("0123456789abcdef") == nil, "done with after it succeeded")
        await deadlines.stop()
    }
}
