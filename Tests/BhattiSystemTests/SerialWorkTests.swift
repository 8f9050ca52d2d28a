import BhattiSystem
import Synchronization
import Testing

/// A value the jobs and the test share.
private final class Box<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ value: T) { self.value = Mutex(value) }
    func update(_ change: (inout T) -> Void) { value.withLock { change(&$0) } }
    var current: T { value.withLock { $0 } }
}

@Suite("Serial work") struct SerialWorkTests {
    @Test("jobs run in the order they were submitted, and close waits for all of them")
    func orderAndClose() async {
        let work = SerialWork()
        let ran = Box<[Int]>([])
        for i in 0..<100 {
            #expect(
                work.submit {
                    // A suspension inside a job does not let the next one start early.
                    await Task.yield()
                    ran.update { $0.append(i) }
                })
        }
        await work.close()
        #expect(ran.current == Array(0..<100))
    }

    @Test("after close, a submitted job is refused and never runs")
    func refusedAfterClose() async {
        let work = SerialWork()
        await work.close()
        let ran = Box(false)
        #expect(!work.submit { ran.update { $0 = true } })
        await work.close()
        #expect(!ran.current)
    }

    @Test("a job submitted from a deinit runs")
    func fromDeinit() async {
        final class Lease: Sendable {
            let work: SerialWork
            let ended: Box<Bool>
            init(_ work: SerialWork, _ ended: Box<Bool>) {
                self.work = work
                self.ended = ended
            }
            deinit { work.submit { [ended] in ended.update { $0 = true } } }
        }
        let work = SerialWork()
        let ended = Box(false)
        do { _ = Lease(work, ended) }
        await work.close()
        #expect(ended.current)
    }
}
