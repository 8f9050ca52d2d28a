import BhattiSystem
import Glibc
import Synchronization
import Testing

@testable import BhattiHTTP

/// Records what the loop tells it; lives on the loop like a connection.
private final class Probe: LoopSource, @unchecked Sendable {
    // SAFETY: its methods run on the loop thread only; the shared results are behind their own locks.
    let readable = Signal()
    let expired = Signal()
    let reads = Shared(0)
    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func ready(_ events: PollEvents) {
        var scratch = [UInt8](repeating: 0, count: 16)
        let n = Glibc.read(fd, &scratch, scratch.count)
        reads.update { $0 += max(0, n) }
        if events.contains(.readable) { readable.fire() }
    }

    func deadlinePassed() { expired.fire() }
}

@Suite(.timeLimit(.minutes(10))) struct EventLoopTests {
    @Test func jobsFromManyThreadsAllRunOnTheOneLoopThread() async throws {
        let loop = try EventLoop()
        let seen = Shared<(count: Int, threads: Set<UInt>)>((0, []))
        let done = Signal()
        let total = 4 * 2000
        let finished = try await offPool { () -> Bool in
            for _ in 0..<4 {
                startThread(name: "test-submitter") {
                    for _ in 0..<2000 {
                        loop.execute {
                            seen.update {
                                $0.count += 1
                                $0.threads.insert(UInt(pthread_self()))
                                if $0.count == total { done.fire() }
                            }
                        }
                    }
                }
            }
            return done.wait()
        }
        #expect(finished)
        #expect(seen.current.count == total)
        #expect(seen.current.threads.count == 1)
        loop.execute { loop.stop() }
    }

    @Test func readinessDeadlinesAndStop() async throws {
        let loop = try EventLoop()
        let (read, write) = try Pipe.make()
        let probe = Probe(fd: read.rawValue)
        loop.execute {
            guard let token = try? loop.register(fd: read.rawValue, interest: .readable, source: probe) else { return }
            // A later deadline first, then an earlier one: the earlier must win.
            loop.setDeadline(token, loop.now + .seconds(30))
            loop.setDeadline(token, loop.now + .milliseconds(100))
        }
        let (expired, readable) = try await offPool { () -> (Bool, Bool) in
            let expired = probe.expired.wait()
            try write.writeAllFile(bytes("hello"))
            return (expired, probe.readable.wait())
        }
        #expect(expired)
        #expect(readable)
        #expect(probe.reads.current == 5)
        let stopped = Signal()
        loop.execute {
            loop.stop()
            stopped.fire()
        }
        let refused = try await offPool { () -> Bool in
            guard stopped.wait() else { return false }
            // The loop exits after the round that stopped it; then it refuses work.
            return eventually { !loop.execute {} }
        }
        #expect(refused)
        read.close()
        write.close()
    }
}
