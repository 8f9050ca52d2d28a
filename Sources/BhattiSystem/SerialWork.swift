/// Work handed over by code that cannot wait for it (a `deinit`, a callback on a thread of its own, a
/// step whose caller must not pay for it), run in order by the one task this owns. `close` stops the
/// intake and waits for everything handed over before it: no work outlives its owner's shutdown.
public final class SerialWork: Sendable {
    public typealias Job = @Sendable () async -> Void

    private let input: AsyncStream<Job>.Continuation
    private let worker: Task<Void, Never>

    public init() {
        let (jobs, input) = AsyncStream<Job>.makeStream()
        self.input = input
        worker = Task {
            for await job in jobs { await job() }
        }
    }

    deinit { input.finish() }

    /// Queues `job`; returns at once. False once closed (the job does not run).
    @discardableResult
    public func submit(_ job: @escaping Job) -> Bool {
        if case .terminated = input.yield(job) { return false }
        return true
    }

    /// Runs what was submitted so far, then ends the worker.
    public func close() async {
        input.finish()
        await worker.value
    }
}
