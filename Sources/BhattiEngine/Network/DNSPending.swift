/// Queries forwarded upstream and not yet answered, bounded in number and in time. Pure state (the
/// clock and the ids come from the caller), tested as a table; `DNSResponder` owns one on its thread.
///
/// Each forwarded query gets a fresh random id (clients' ids collide with each other); a reply is taken
/// only from an upstream the query went to, with that id and the same question, and goes back to its
/// client under the client's own id, the rest of it byte for byte. Unanswered, a query moves on to the
/// next upstream after `attemptTimeout`, and is forgotten after the last (the client's resolver retries).
/// Each group (a user's network) has at most `groupCapacity` of the `capacity`, so one user's flood
/// cannot take the others' DNS away.
public struct DNSPending<Client: Equatable & Sendable>: Sendable {
    public struct Entry: Sendable {
        public var client: Client
        public var group: Int
        public var clientID: UInt16
        public var question: [UInt8]
        /// The query as sent upstream (with the new id).
        public var query: [UInt8]
        /// The last upstream tried; upstreams 0…upstream have it.
        public var upstream: Int
        public var deadline: ContinuousClock.Instant
    }

    public let capacity: Int, groupCapacity: Int
    public let attemptTimeout: Duration
    public private(set) var entries: [UInt16: Entry] = [:]
    private var perGroup: [Int: Int] = [:]

    public init(capacity: Int = 4096, groupCapacity: Int = 256, attemptTimeout: Duration = .milliseconds(1500)) {
        self.capacity = capacity
        self.groupCapacity = groupCapacity
        self.attemptTimeout = attemptTimeout
    }

    /// Registers `query` (its bytes `packet`) from `client` of `group`: the bytes to send to upstream 0,
    /// or nil when the table or the group's share is full (the query is dropped).
    public mutating func add(
        _ query: DNSQuery, packet: [UInt8], from client: Client, group: Int, now: ContinuousClock.Instant, randomID: () -> UInt16
    ) -> [UInt8]? {
        guard entries.count < capacity, perGroup[group, default: 0] < groupCapacity else { return nil }
        var id = randomID()
        while entries[id] != nil { id = randomID() }
        let sent = DNSQuery.withID(id, packet)
        entries[id] = Entry(
            client: client, group: group, clientID: query.id, question: query.question, query: sent, upstream: 0,
            deadline: now + attemptTimeout)
        perGroup[group, default: 0] += 1
        return sent
    }

    private mutating func remove(_ id: UInt16) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        perGroup[entry.group, default: 1] -= 1
        if perGroup[entry.group] == 0 { perGroup[entry.group] = nil }
    }

    /// How many of `group`'s queries are pending.
    public func pending(group: Int) -> Int { perGroup[group] ?? 0 }

    /// A reply from upstream `upstream`: the client and the bytes to send it, or nil when it answers
    /// nothing pending (late, spoofed, malformed).
    public mutating func reply(_ packet: [UInt8], from upstream: Int) -> (Client, [UInt8])? {
        guard let (id, isResponse) = DNSQuery.header(packet), isResponse, let entry = entries[id], upstream <= entry.upstream,
            packet.count >= DNSQuery.headerSize + 2, DNSQuery.uint16(packet, 4) == 1,
            let (range, _) = DNSQuery.question(in: packet), packet[range].elementsEqual(entry.question)
        else { return nil }
        remove(id)
        return (entry.client, DNSQuery.withID(entry.clientID, packet))
    }

    /// At `now`: queries to send again, each to its next upstream (of `upstreams`); those past the last
    /// are forgotten.
    public mutating func expire(now: ContinuousClock.Instant, upstreams: Int) -> [(upstream: Int, packet: [UInt8])] {
        var resend: [(Int, [UInt8])] = []
        for (id, entry) in entries where entry.deadline <= now {
            if entry.upstream + 1 < upstreams {
                entries[id]?.upstream += 1
                entries[id]?.deadline = now + attemptTimeout
                resend.append((entry.upstream + 1, entry.query))
            } else {
                remove(id)
            }
        }
        return resend
    }

    /// When `expire` next has something to do.
    public var nextDeadline: ContinuousClock.Instant? { entries.values.map(\.deadline).min() }
}
