import BhattiCore
import BhattiStore
import Foundation
import Synchronization
import Testing

@testable import BhattiDaemon

/// A warm sandbox's request goes out while its wake is still in flight (`SandboxService.alongside`).
@Suite("Overlapped warm wake", .timeLimit(.minutes(10)))
struct OverlappedWakeTests {
    struct WakeFailed: Error {}

    @Test("a failed wake fails the request at once instead of leaving it waiting for a guest that never runs")
    func failedWake() async throws {
        let waking = Task<SandboxRecord, any Error> {
            try await Task.sleep(for: .milliseconds(20))
            throw WakeFailed()
        }
        let bodyCancelled = Mutex(false)
        // The body would wait an hour; the suite's time limit turns waiting for it into a failure.
        await #expect(throws: WakeFailed.self) {
            try await SandboxService.alongside(waking) {
                do { try await Task.sleep(for: .seconds(3600)) } catch {
                    bodyCancelled.withLock { $0 = true }
                    throw error
                }
                return 1
            }
        }
        #expect(bodyCancelled.withLock { $0 }, "the request was not ended when its wake failed")
    }

    @Test("the answer waits for the wake to finish (the store says hot before it), and a command that ran stands")
    func answerAfterWake() async throws {
        let woke = Mutex(false)
        let waking = Task<SandboxRecord, any Error> {
            try await Task.sleep(for: .milliseconds(100))
            woke.withLock { $0 = true }
            throw CancellationError()
        }
        // The guest ran the command, so the wake's own late failure (its store update) does not undo it.
        #expect(try await SandboxService.alongside(waking) { 7 } == 7)
        #expect(woke.withLock { $0 }, "answered before the wake ended")
    }

    @Test("no wake in flight: the body runs as it is")
    func noWake() async throws {
        #expect(try await SandboxService.alongside(nil) { 42 } == 42)
    }
}
