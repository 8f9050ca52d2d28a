import Synchronization

/// Writes whole messages to a socket shared by many callers without ever blocking one: a message goes
/// straight out while the socket's buffer takes it, and what does not fit waits, in order, for a
/// thread that writes it as the peer reads. Callers that must not block (the HTTP loop thread runs
/// exec handlers) then never wait for a slow or stopped peer; how much can queue is up to the callers
/// (the agent channel's bulk data is metered by the guest's credit).
public final class QueuedWriter: Sendable {
    private struct State {
        /// Messages, or their unsent tails, waiting for the drain thread.
        var pending: [[UInt8]] = []
        var draining = false
        var failed: Errno?
    }

    private let fd: FileDescriptor
    private let state = Mutex(State())
    private let onFailure: @Sendable (Errno) -> Void

    /// A writer for `fd`; `onFailure` runs once, on the first write that fails (the caller that saw
    /// it may be long gone when the drain thread does).
    public init(fd: FileDescriptor, onFailure: @escaping @Sendable (Errno) -> Void = { _ in }) {
        self.fd = fd
        self.onFailure = onFailure
    }

    /// Bytes waiting for the peer, for tests and diagnostics.
    public var queuedBytes: Int { state.withLock { $0.pending.reduce(0) { $0 + $1.count } } }

    /// Sends `message` whole and after every earlier one, or queues what the socket cannot take now.
    /// - Throws: the error an earlier write met (the channel is then dead), or this one's.
    public func write(_ message: [UInt8]) throws(Errno) {
        let outcome: Result<Bool, Errno> = state.withLock { s in
            if let failed = s.failed { return .failure(failed) }
            if s.draining {
                s.pending.append(message)
                return .success(false)
            }
            // Under the lock, so two callers' messages never interleave on the socket.
            var sent = 0
            while sent < message.count {
                let result = message.withUnsafeBytes { raw in
                    Result { () throws(Errno) in try fd.sendWithoutWaiting(UnsafeRawBufferPointer(rebasing: raw[sent...])) }
                }
                guard case .success(let n) = result else { return result.map { _ in false } }
                if n == 0 { break }
                sent += n
            }
            guard sent < message.count else { return .success(false) }
            s.pending.append(Array(message[sent...]))
            s.draining = true
            return .success(true)
        }
        switch outcome {
        case .failure(let error):
            fail(error)
            throw error
        case .success(let startDrain):
            if startDrain { startThread(name: "queued-writer") { [self] in drain() } }
        }
    }

    /// Writes the queue out with blocking writes until it is empty; later messages queue behind it.
    private func drain() {
        while true {
            let next: [UInt8]? = state.withLock { s in
                guard !s.pending.isEmpty else {
                    s.draining = false
                    return nil
                }
                return s.pending.removeFirst()
            }
            guard let next else { return }
            do { try fd.writeAll(next) } catch {
                fail(error)
                return
            }
        }
    }

    /// Marks the writer dead (dropping what is queued) and reports the first failure only.
    private func fail(_ error: Errno) {
        let first = state.withLock { s in
            defer {
                s.failed = s.failed ?? error
                s.pending = []
                s.draining = false
            }
            return s.failed == nil
        }
        if first { onFailure(error) }
    }
}
