import Glibc

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

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a detached pthread running `body` (for long-lived readers and waiters).
///
/// pthreads rather than Foundation's `Thread`, so the static guest agent links no Foundation beyond
/// FoundationEssentials.
public func startThread(name _: String, _ body: @escaping @Sendable () -> Void) {
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attr, 1 << 20)
    defer { pthread_attr_destroy(&attr) }
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attr, { raw in
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
