/// The most recent output of a session, at most `capacity` bytes: a ring that overwrites the oldest.
struct Scrollback: Sendable {
    let capacity: Int
    private var storage: [UInt8] = []
    /// Index of the oldest byte once `storage` is full (0 until then).
    private var head = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    var count: Int { storage.count }

    mutating func append(_ bytes: [UInt8]) {
        guard capacity > 0, !bytes.isEmpty else { return }
        if bytes.count >= capacity {
            storage = Array(bytes.suffix(capacity))
            head = 0
            return
        }
        var rest = bytes[...]
        if storage.count < capacity {
            // Still filling: plain appends, the oldest byte stays at 0.
            let room = capacity - storage.count
            storage.append(contentsOf: rest.prefix(room))
            rest = rest.dropFirst(room)
            if rest.isEmpty { return }
        }
        // Full: overwrite from the oldest byte on, wrapping once at most (rest < capacity).
        let first = min(rest.count, capacity - head)
        storage.replaceSubrange(head..<head + first, with: rest.prefix(first))
        let second = rest.count - first
        if second > 0 { storage.replaceSubrange(0..<second, with: rest.suffix(second)) }
        head = (head + rest.count) % capacity
    }

    /// The retained bytes, oldest first.
    func snapshot() -> [UInt8] {
        guard head > 0 else { return storage }
        return Array(storage[head...]) + storage[..<head]
    }
}
