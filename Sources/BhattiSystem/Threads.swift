import Dispatch
import Glibc
import Synchronization

/// Runs blocking work off Swift's cooperative pool: each call gets its own thread.
///
/// The cooperative pool has as many threads as cores (two here); one blocked `waitpid` or `read`
/// there stalls every task. Use this for calls that can block for long; keep hot paths on long-lived
/// reader threads instead (a thread start costs tens of microseconds).
public enum Blocking {
    public static func run<T: Sendable>(
        name: String = "bhatti-blocking", _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            startThread(name: name) {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}

/// Parked threads waiting for work. Starting a pthread costs tens of microseconds natively and
/// several hundred under software emulation, and the agent and the daemon start one per stream; a
/// finished thread parks here for a while and takes the next job instead of exiting.
private final class ThreadPool: Sendable {
    final class Worker: Sendable {
        let wake = DispatchSemaphore(value: 0)
        let job = Mutex<(@Sendable () -> Void)?>(nil)
    }
    private let idle = Mutex<[Worker]>([])
    static let maxIdle = 32
    static let idleSeconds = 30

    /// Hands `body` to a parked thread; false when none is parked.
    func dispatch(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let worker = idle.withLock({ $0.popLast() }) else { return false }
        worker.job.withLock { $0 = body }
        worker.wake.signal()
        return true
    }

    /// The life of a pooled thread: run, park, run the next job, exit after a quiet while.
    func run(_ first: @escaping @Sendable () -> Void) {
        var body: (@Sendable () -> Void)? = first
        let me = Worker()
        while let job = body {
            job()
            body = nil
            let parked = idle.withLock { list -> Bool in
                guard list.count < ThreadPool.maxIdle else { return false }
                list.append(me)
                return true
            }
            guard parked else { return }
            if me.wake.wait(timeout: .now() + .seconds(ThreadPool.idleSeconds)) == .timedOut {
                // Still parked: leave. Already taken: a job is on its way, wait for it.
                let stillIdle = idle.withLock { list -> Bool in
                    guard let i = list.firstIndex(where: { $0 === me }) else { return false }
                    list.remove(at: i)
                    return true
                }
                if stillIdle { return }
                me.wake.wait()
            }
            body = me.job.withLock { j in
                defer { j = nil }
                return j
            }
        }
    }
}

private let pool = ThreadPool()

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on its own thread: a parked pool thread when one is free, else a new detached pthread
/// (for long-lived readers and waiters as much as for short blocking calls).
///
/// pthreads rather than Foundation's `Thread`, so the static guest agent links no Foundation beyond
/// FoundationEssentials.
public func startThread(name _: String, _ body: @escaping @Sendable () -> Void) {
    if pool.dispatch(body) { return }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attr, 1 << 20)
    defer { pthread_attr_destroy(&attr) }
    let context = Unmanaged.passRetained(ThreadBody({ pool.run(body) })).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, &attr,
        { raw in
            // SAFETY: `raw` is the retained ThreadBody passed below; released exactly once here.
            let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        fatalError("pthread_create failed: \(rc)")
    }
}
