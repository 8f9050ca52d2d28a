public import BhattiCore
import BhattiStore
import Foundation

/// The audit log's writer: callers hand an event over without waiting, one task appends them to the
/// store in the order they were recorded. Keeps SQLite writes off the hot paths (a resume, an auth
/// check) while the log stays ordered.
public final class EventLog: Sendable {
    private enum Item: Sendable {
        case event(kind: String, sandboxID: SandboxID?, userID: String?, detail: String?, at: Date)
        case barrier(CheckedContinuation<Void, Never>)
    }

    private let input: AsyncStream<Item>.Continuation
    private let writer: Task<Void, Never>

    init(store: SandboxStore, log: Logger) {
        let (stream, input) = AsyncStream<Item>.makeStream()
        self.input = input
        writer = Task {
            for await item in stream {
                switch item {
                case .event(let kind, let sandboxID, let userID, let detail, let at):
                    do { try await store.appendEvent(kind, sandboxID: sandboxID, userID: userID, detail: detail, at: at) } catch {
                        log.error("events.append_failed", ["event": kind, "error": "\(error)"])
                    }
                case .barrier(let done):
                    done.resume()
                }
            }
        }
    }

    deinit { input.finish() }

    /// The daemon's stop: every event recorded so far is written, then the writer ends.
    func close() async {
        input.finish()
        await writer.value
    }

    /// Queues an event; returns at once.
    public func record(_ kind: String, sandbox: SandboxID? = nil, user: String? = nil, detail: String? = nil) {
        input.yield(.event(kind: kind, sandboxID: sandbox, userID: user, detail: detail, at: Date()))
    }

    /// Returns once every event recorded before the call is in the store: a reader of the log sees
    /// what happened before its request.
    public func flushed() async {
        await withCheckedContinuation { done in
            if case .terminated = input.yield(.barrier(done)) { done.resume() }
        }
    }
}
