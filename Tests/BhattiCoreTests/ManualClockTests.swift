import BhattiCore
import Testing

@Suite("ManualClock and TimeLine")
struct ManualClockTests {
    @Test("a sleep ends when time is advanced to its deadline, not before; a past deadline returns at once")
    func sleepsUntilAdvanced() async throws {
        let clock = ManualClock()
        let time = TimeLine(clock)
        let sleeper = Task { try await time.sleep(until: .seconds(30)) }
        // Wait for the sleep to be registered (an event, not a duration).
        while clock.sleeperCount == 0 { await Task.yield() }
        #expect(clock.nextDeadline == ManualClock.Instant(offset: .seconds(30)))
        clock.advance(by: .seconds(29))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(clock.sleeperCount == 0)
        #expect(time.now == .seconds(30))
        try await time.sleep(until: .seconds(10))
    }

    @Test("a cancelled sleep throws CancellationError and leaves no sleeper behind")
    func cancellation() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(3600)) }
        while clock.sleeperCount == 0 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
        // Cancelled before it starts sleeping: it still ends at once.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(1))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}
