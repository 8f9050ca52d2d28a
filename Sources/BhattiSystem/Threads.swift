import Foundation

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

/// Starts a detached thread running `body` (for long-lived readers and waiters).
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread { body() }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
}
