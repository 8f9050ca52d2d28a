import BhattiSystem
import Dispatch
import Synchronization

/// Feeds a child's stdin from its own thread, so a process that does not read its input blocks only
/// that thread, never the channel's reader.
final class ByteQueue: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var closed = false
    }
    private let state = Mutex(State())
    /// One signal per pushed chunk or close.
    private let wake = DispatchSemaphore(value: 0)
    private let fd: FileDescriptor
    private let credit: ReceiveCredit

    init(fd: FileDescriptor, credit: ReceiveCredit) {
        self.fd = fd
        self.credit = credit
        startThread(name: "lohar-stdin") { [self] in drain() }
    }

    /// Queues a chunk; an empty chunk means end of input.
    func push(_ bytes: [UInt8]) {
        let accepted = state.withLock { s -> Bool in
            if s.closed { return false }
            s.chunks.append(bytes)
            return true
        }
        if accepted { wake.signal() }
    }

    /// Drops pending input and closes stdin (the process has exited).
    func close() {
        state.withLock { s in
            s.closed = true
            s.chunks.removeAll()
        }
        wake.signal()
    }

    private func drain() {
        while true {
            wake.wait()
            let next: [UInt8]? = state.withLock { s in
                if s.closed || s.chunks.isEmpty { return nil }
                return s.chunks.removeFirst()
            }
            guard let chunk = next, !chunk.isEmpty else { break }
            if (try? fd.writeAllFile(chunk)) == nil { break }
            // Written to the process: the host may send that much more.
            credit.consumed(chunk.count)
        }
        fd.close()
    }
}
