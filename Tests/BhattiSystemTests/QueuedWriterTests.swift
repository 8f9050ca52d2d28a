import BhattiSystem
import Foundation
import Synchronization
import Testing

/// The time limit turns a write that blocks, or a drain that never ends, into a failure.
@Suite("Queued writer", .timeLimit(.minutes(10)))
struct QueuedWriterTests {
    /// Message `i`: a 4-byte big-endian index, a 4-byte length, then `length` bytes of `i`.
    static func message(_ i: Int, length: Int) -> [UInt8] {
        let header = withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) + withUnsafeBytes(of: UInt32(length).bigEndian, Array.init)
        return header + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: length)
    }

    /// Splits what was read back into messages; nil if any is torn or garbled.
    static func messages(in bytes: [UInt8]) -> [Int]? {
        var found: [Int] = []
        var at = 0
        while at < bytes.count {
            guard at + 8 <= bytes.count else { return nil }
            let index = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            let length = bytes[at + 4..<at + 8].reduce(0) { $0 << 8 | Int($1) }
            guard at + 8 + length <= bytes.count,
                bytes[at + 8..<at + 8 + length].allSatisfy({ $0 == UInt8(truncatingIfNeeded: index) })
            else { return nil }
            found.append(index)
            at += 8 + length
        }
        return found
    }

    /// Reads `count` bytes from `fd` (or to its end) and splits them into messages, on a thread of its
    /// own (megabytes of checking in a debug build would hold a cooperative thread that the parallel
    /// suites need). Waiting for the bytes, not for an empty queue: the drain thread takes a message
    /// off the queue before its write is done.
    static func readMessages(_ fd: FileDescriptor, count: Int) async throws -> [Int]? {
        try await Blocking.run {
            var all: [UInt8] = []
            while all.count < count {
                let chunk = try fd.read(upTo: 1 << 16)
                if chunk.isEmpty { break }
                all += chunk
            }
            return messages(in: all)
        }
    }

    /// A write that blocked would wait forever for a peer that reads only afterwards (a hang).
    @Test("writes return at once while the peer reads nothing, and every byte arrives in order once it does")
    func neverBlocks() async throws {
        let (ours, peer) = try Pipe.socketPair()
        let writer = QueuedWriter(fd: ours)
        // 2 MiB: far more than a socket buffer holds.
        for i in 0..<32 { try writer.write(Self.message(i, length: 64 << 10)) }
        #expect(writer.queuedBytes > 0)
        // Whatever is queued goes out, in order.
        #expect(try await Self.readMessages(peer, count: 32 * (8 + 64 << 10)) == Array(0..<32))
        ours.close()
        peer.close()
    }

    @Test("messages from many threads arrive whole, each thread's in its order")
    func concurrentWriters() async throws {
        let (ours, peer) = try Pipe.socketPair()
        let writer = QueuedWriter(fd: ours)
        let total = 4 * (0..<200).reduce(0) { $0 + 8 + ($1 * 997) % 4_000 }
        let reading = Task { try await Self.readMessages(peer, count: total) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    try await Blocking.run {
                        for n in 0..<200 { try writer.write(Self.message(thread * 1000 + n, length: (n * 997) % 4_000)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seen = try #require(try await reading.value)
        #expect(seen.count == 800)
        for thread in 0..<4 {
            #expect(seen.filter { $0 / 1000 == thread } == (0..<200).map { thread * 1000 + $0 })
        }
        ours.close()
        peer.close()
    }

    @Test("once the peer is gone, writes fail, whether queued or sent at once, and the failure is reported once")
    func peerGone() async throws {
        let (ours, peer) = try Pipe.socketPair()
        let reports = Mutex(0)
        let writer = QueuedWriter(fd: ours) { _ in reports.withLock { $0 += 1 } }
        // Fill the buffer so later messages queue, then close the peer under the drain thread.
        for i in 0..<16 { try writer.write(Self.message(i, length: 64 << 10)) }
        peer.close()
        // Until the drain thread has met the closed peer; the deadline only turns a hang into a failure.
        var failed = false
        let giveUp = ContinuousClock.now + .seconds(60)
        var i = 0
        while !failed, ContinuousClock.now < giveUp {
            do { try writer.write(Self.message(i, length: 16)) } catch { failed = true }
            i += 1
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(failed)
        #expect(throws: Errno.self) { try writer.write([1]) }
        #expect(reports.withLock { $0 } == 1)
        ours.close()
    }
}
