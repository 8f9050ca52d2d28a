import Dispatch
import Synchronization

/// A value delivered once from another thread; `wait` blocks until it arrives.
final class OneShot<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ v: T) {
        value.withLock { $0 = v }
        ready.signal()
    }

    func wait() -> T {
        ready.wait()
        return value.withLock { $0! }
    }
}
