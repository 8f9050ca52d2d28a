import Dispatch
import Synchronization

/// A FIFO from the connection's reader thread (which must never block) to one worker thread that
/// does the blocking part: writing a file, feeding a socket.
///
/// `push` never blocks; the host's credit bounds how much can queue up. `cancel` drops whatever is
/// queued and makes `pop` return nil at once, so a cancelled transfer stops without draining.
final class Inbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        /// Index of the next item: popping by index keeps many small frames from costing O(n²).
        var head = 0
        var cancelled = false
    }
    private enum Next {
        case item(Item)
        case cancelled
        case empty
    }
    private let state = Mutex(State())
    /// One signal per push and per cancel; `pop` re-checks the state after every wake-up.
    private let wake = DispatchSemaphore(value: 0)

    /// Queues `item`; dropped once cancelled.
    func push(_ item: Item) {
        let accepted = state.withLock { s -> Bool in
            guard !s.cancelled else { return false }
            s.items.append(item)
            return true
        }
        if accepted { wake.signal() }
    }

    /// Drops pending items; `pop` returns nil from now on. Idempotent.
    func cancel() {
        state.withLock { s in
            s.cancelled = true
            s.items.removeAll()
            s.head = 0
        }
        wake.signal()
    }

    /// The next item, waiting for one; nil once cancelled.
    func pop() -> Item? {
        while true {
            let next: Next = state.withLock { s in
                if s.cancelled { return .cancelled }
                guard s.head < s.items.count else { return .empty }
                let item = s.items[s.head]
                s.head += 1
                if s.head == s.items.count {
                    s.items.removeAll(keepingCapacity: true)
                    s.head = 0
                } else if s.head >= 1024 && s.head * 2 >= s.items.count {
                    // A queue that never empties: drop the consumed prefix now and then.
                    s.items.removeFirst(s.head)
                    s.head = 0
                }
                return .item(item)
            }
            switch next {
            case .item(let item): return item
            case .cancelled: return nil
            case .empty: wake.wait()
            }
        }
    }
}
