import BhattiSystem
import Dispatch
import Synchronization

/// Feeds a session's terminal or stdin pipe from its own thread, so a process that does not read its
/// input blocks only that thread, never a connection's reader.
///
/// Unlike `ByteQueue` it outlives any one client: each chunk carries the credit of the stream it came
/// from, granted back once the chunk is written.
final class SessionInput: Sendable {
    private struct Chunk {
        let bytes: [UInt8]
        let credit: ReceiveCredit?
    }
    private struct State {
        var chunks: [Chunk] = []
        var closed = false
    }
    private let state = Mutex(State())
    /// One signal per pushed chunk or close.
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the writer thread; it owns `fd` and closes it when done.
    init(fd: FileDescriptor) {
        startThread(name: "lohar-session-in") { [self] in drain(fd) }
    }

    /// Queues a chunk; an empty chunk ends the input (stdin of a piped session reads end of file).
    func push(_ bytes: [UInt8], credit: ReceiveCredit?) {
        let accepted = state.withLock { s -> Bool in
            if s.closed { return false }
            s.chunks.append(Chunk(bytes: bytes, credit: credit))
            return true
        }
        if accepted { wake.signal() } else { credit?.consumed(bytes.count) }
    }

    /// Drops pending input and closes (the session has ended).
    func close() {
        let dropped = state.withLock { s in
            s.closed = true
            defer { s.chunks.removeAll() }
            return s.chunks
        }
        // The hosts that sent them may send that much more elsewhere on their streams.
        for c in dropped { c.credit?.consumed(c.bytes.count) }
        wake.signal()
    }

    private func drain(_ fd: FileDescriptor) {
        while true {
            wake.wait()
            let next: Chunk? = state.withLock { s in
                if s.closed || s.chunks.isEmpty { return nil }
                return s.chunks.removeFirst()
            }
            guard let chunk = next, !chunk.bytes.isEmpty else { break }
            let written = (try? fd.writeAllFile(chunk.bytes)) != nil
            chunk.credit?.consumed(chunk.bytes.count)
            if !written { break }
        }
        fd.close()
        // Anything still queued will never be written: give its credit back.
        close()
    }
}
