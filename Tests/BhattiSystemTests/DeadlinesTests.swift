import BhattiSystem
import Foundation
import Synchronization
import Testing

@Suite("Deadlines")
struct DeadlinesTests {
    /// Names of fired jobs, in firing order, and when each fired.
    final class Log: Sendable {
        private let fired = Mutex<[(String, ContinuousClock.Instant)]>([])
        func add(_ name: String) { fired.withLock { $0.append((name, .now)) } }
        var names: [String] { fired.withLock { $0.map(\.0) } }
        func time(of name: String) -> ContinuousClock.Instant? { fired.withLock { $0.first { $0.0 == name }?.1 } }

        /// Waits for `count` jobs to have fired; the deadline only turns a hang into a failure.
        func wait(for count: Int, seconds: Double = 60) async throws {
            let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while names.count < count, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    @Test("jobs fire once their delay has passed, earliest first, whatever order they were set in")
    func order() async throws {
        let deadlines = Deadlines()
        let log = Log()
        let start = ContinuousClock.now
        deadlines.after(.milliseconds(200)) { log.add("200") }
        deadlines.after(.milliseconds(50)) { log.add("50") }
        deadlines.after(.milliseconds(100)) { log.add("100") }
        try await log.wait(for: 3)
        #expect(log.names == ["50", "100", "200"])
        for (name, ms) in [("50", 50), ("100", 100), ("200", 200)] {
            #expect(try #require(log.time(of: name)) - start >= .milliseconds(ms))
        }
    }

    @Test("a cancelled job never runs; cancel says whether it was still pending")
    func cancel() async throws {
        let deadlines = Deadlines()
        let log = Log()
        let dropped = deadlines.after(.milliseconds(50)) { log.add("dropped") }
        let kept = deadlines.after(.milliseconds(80)) { log.add("kept") }
        #expect(deadlines.cancel(dropped))
        // Jobs fire earliest first: had the dropped one run, it would be in the log before the kept one.
        try await log.wait(for: 1)
        #expect(log.names == ["kept"])
        #expect(!deadlines.cancel(kept))
        #expect(!deadlines.cancel(dropped))
    }

    @Test("an earlier deadline set while the thread sleeps towards a later one fires on time")
    func earlierWakes() async throws {
        let deadlines = Deadlines()
        let log = Log()
        // Later than any test runs: a thread that slept towards it would never fire "soon" (a hang).
        let late = deadlines.after(.seconds(3600)) { log.add("late") }
        // A chance for the thread to be asleep towards the late deadline (the case under test); if it
        // is not yet, the test still holds, it just shows less.
        try await Task.sleep(for: .milliseconds(50))
        deadlines.after(.milliseconds(50)) { log.add("soon") }
        try await log.wait(for: 1)
        #expect(log.names == ["soon"])
        #expect(deadlines.cancel(late))
    }

    @Test("a thread left waiting with nothing set wakes for the next deadline")
    func afterEmpty() async throws {
        let deadlines = Deadlines()
        let log = Log()
        deadlines.after(.milliseconds(10)) { log.add("first") }
        try await log.wait(for: 1)
        try await Task.sleep(for: .milliseconds(50))
        deadlines.after(.milliseconds(10)) { log.add("second") }
        try await log.wait(for: 2)
        #expect(log.names == ["first", "second"])
    }
}
