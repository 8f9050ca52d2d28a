/// Wakes one waiter that sleeps until something may have changed. `raise` never blocks, and raises
/// while nobody waits are kept as one, so a waiter that looks, finds nothing, and waits cannot miss a
/// raise that came in between.
final class WakeSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let input: AsyncStream<Void>.Continuation

    init() {
        (stream, input) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func raise() { input.yield() }

    /// Returns once raised (at once when raised since the last wait): true; false when the waiting
    /// task was cancelled. One waiter at a time.
    func wait() async -> Bool {
        var raised = stream.makeAsyncIterator()
        return await raised.next() != nil
    }
}
