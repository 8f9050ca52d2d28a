import BhattiSystem
import Glibc
import Synchronization

/// DNS for every user's network: UDP and TCP port 53 on each user's gateway, inside the user's
/// namespace. The user's sandbox names are answered here (`DNSZone`); other names go to the host's
/// resolvers from the host's namespace, so a loopback stub (systemd-resolved's `127.0.0.53`) serves
/// guests too.
///
/// One thread polls every user's UDP socket, every TCP listener and the one upstream socket; a TCP
/// client gets a thread of its own (at most `maxTCPClientsPerNetwork` per user at once) that does
/// blocking reads with deadlines. Nothing here runs on the cooperative pool.
public final class DNSResponder: Sendable {
    public let upstreams: [DNSEndpoint]
    /// TCP clients at once, per user's network (so no user can take TCP DNS from the others).
    public static let maxTCPClientsPerNetwork = 8
    /// A TCP client's or upstream's silence that ends the exchange.
    static let tcpDeadlineMilliseconds = 4_000

    private struct Network {
        let udp: FileDescriptor
        let tcp: FileDescriptor
    }
    private struct State {
        var networks: [Int: Network] = [:]
        var zones: [Int: DNSZone] = [:]
        var pending = DNSPending<Client>()
        var tcpClients: [Int: Int] = [:]
        var started = false
        var closed = false
    }
    /// A UDP client: the user's network and the guest's address.
    struct Client: Equatable, Sendable {
        var index: Int
        var endpoint: DNSEndpoint
    }

    private let state = Mutex(State())
    /// The loop's wake-up: a byte on `wakeWrite` makes it look at `state` again.
    private let wakeRead: FileDescriptor, wakeWrite: FileDescriptor
    /// Forwarded queries leave, and their replies arrive, here (the host's namespace).
    private let upstream: FileDescriptor

    /// `upstreams`: dotted IPv4 addresses, asked on port 53 in this order.
    public init(upstreams: [String]) throws {
        self.upstreams = upstreams.compactMap { IPv4.parse($0).map { DNSEndpoint(address: $0, port: 53) } }
        do {
            (wakeRead, wakeWrite) = try Pipe.socketPair()
            upstream = try DNSSockets.udp()
        } catch { throw EngineError.io("DNS responder sockets", error) }
    }

    /// Serves user `index` on `address`:53 in `namespace` (bound once; later calls do nothing).
    public func serve(index: Int, namespace: String, address: String) throws {
        if state.withLock({ $0.networks[index] != nil }) { return }
        let udp: FileDescriptor
        let tcp: FileDescriptor
        do {
            udp = try NetworkNamespace.bind(namespace: namespace, stream: false, host: address, port: 53)
            do { tcp = try NetworkNamespace.bind(namespace: namespace, stream: true, host: address, port: 53) } catch {
                udp.close()
                throw error
            }
        } catch { throw EngineError.io("DNS on \(address):53 in \(namespace)", error) }
        let start = state.withLock { s -> Bool? in
            guard !s.closed, s.networks[index] == nil else { return nil }
            s.networks[index] = Network(udp: udp, tcp: tcp)
            defer { s.started = true }
            return !s.started
        }
        guard let start else {
            udp.close()
            tcp.close()
            return
        }
        if start { startThread(name: "bhatti-dns") { self.run() } }
        wake()
    }

    /// Changes what user `index`'s responder answers (kept until `stop`, whether or not it serves yet).
    public func update(index: Int, _ change: (inout DNSZone) -> Void) {
        state.withLock { s in change(&s.zones[index, default: DNSZone()]) }
    }

    public func zone(index: Int) -> DNSZone? { state.withLock { $0.zones[index] } }

    /// Stops serving user `index` and, unless `keepZone`, forgets its zone. The sockets close now: they
    /// would keep a deleted namespace alive.
    public func stop(index: Int, keepZone: Bool = false) {
        let network = state.withLock { s -> Network? in
            if !keepZone { s.zones[index] = nil }
            return s.networks.removeValue(forKey: index)
        }
        network?.udp.close()
        network?.tcp.close()
        wake()
    }

    /// Stops everything; the loop thread ends.
    public func close() {
        let networks = state.withLock { s -> [Network] in
            s.closed = true
            defer { s.networks = [:] }
            return Array(s.networks.values)
        }
        for n in networks {
            n.udp.close()
            n.tcp.close()
        }
        wake()
        upstream.close()
    }

    private func wake() {
        _ = try? [UInt8(1)].withUnsafeBytes { try wakeWrite.sendWithoutWaiting($0) }
    }

    // MARK: the loop

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let clock = ContinuousClock()
        while true {
            let snapshot = state.withLock { s -> ([(Int, Network)], ContinuousClock.Instant?)? in
                s.closed ? nil : (s.networks.map { ($0.key, $0.value) }, s.pending.nextDeadline)
            }
            guard let (networks, deadline) = snapshot else { return }
            var fds = [
                pollfd(fd: wakeRead.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: upstream.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            for (_, n) in networks {
                fds.append(pollfd(fd: n.udp.rawValue, events: Int16(POLLIN), revents: 0))
                fds.append(pollfd(fd: n.tcp.rawValue, events: Int16(POLLIN), revents: 0))
            }
            var timeout: Int32 = -1
            if let deadline {
                let left = clock.now.duration(to: deadline).components
                timeout = Int32(max(0, min(60_000, left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1)))
            }
            if Glibc.poll(&fds, nfds_t(fds.count), timeout) < 0 {
                // EINTR; or ENOMEM, which passes: try again shortly rather than end everyone's DNS.
                if errno != EINTR { usleep(10_000) }
                continue
            }
            if fds[0].revents != 0 { _ = try? wakeRead.read(upTo: 256) }
            if fds[1].revents & Int16(POLLIN) != 0 { answerFromUpstream(&buffer, now: clock.now) }
            for (i, (index, n)) in networks.enumerated() {
                if fds[2 + 2 * i].revents & Int16(POLLIN) != 0 { serveUDP(index: index, socket: n.udp, &buffer, now: clock.now) }
                if fds[3 + 2 * i].revents & Int16(POLLIN) != 0 { acceptTCP(index: index, listener: n.tcp) }
            }
            let count = upstreams.count
            let resend = state.withLock { $0.pending.expire(now: clock.now, upstreams: count) }
            for r in resend { DNSSockets.send(upstream, r.packet, to: upstreams[r.upstream]) }
        }
    }

    /// Guests' queries on user `index`'s socket (a bounded batch, so one busy user cannot starve others).
    private func serveUDP(index: Int, socket: FileDescriptor, _ buffer: inout [UInt8], now: ContinuousClock.Instant) {
        for _ in 0..<64 {
            guard case .datagram(let packet, let from) = DNSSockets.receive(socket, into: &buffer) else { return }
            let zone = state.withLock { $0.zones[index] } ?? DNSZone()
            switch zone.decide(packet, from: from.address) {
            case .drop: continue
            case .answer(let bytes): DNSSockets.send(socket, bytes, to: from)
            case .forward(let query):
                guard !upstreams.isEmpty else {
                    DNSSockets.send(socket, DNSAnswer.empty(query, .serverFailure, authoritative: false), to: from)
                    continue
                }
                let client = Client(index: index, endpoint: from)
                let sent = state.withLock {
                    $0.pending.add(query, packet: packet, from: client, group: index, now: now, randomID: { .random(in: .min ... .max) })
                }
                if let sent { DNSSockets.send(upstream, sent, to: upstreams[0]) }
            }
        }
    }

    /// Upstreams' replies, each to the guest that asked.
    private func answerFromUpstream(_ buffer: inout [UInt8], now: ContinuousClock.Instant) {
        for _ in 0..<256 {
            let received = DNSSockets.receive(upstream, into: &buffer)
            guard case .datagram(let packet, let from) = received else {
                if case .dropped = received { continue }
                return
            }
            guard let u = upstreams.firstIndex(of: from) else { continue }
            let target = state.withLock { s -> (FileDescriptor, DNSEndpoint, [UInt8])? in
                guard let (client, reply) = s.pending.reply(packet, from: u), let network = s.networks[client.index] else { return nil }
                return (network.udp, client.endpoint, reply)
            }
            if let (socket, to, reply) = target { DNSSockets.send(socket, reply, to: to) }
        }
    }

    private func acceptTCP(index: Int, listener: FileDescriptor) {
        while let (connection, peer) = DNSSockets.accept(listener) {
            let admitted = state.withLock { s -> Bool in
                guard s.tcpClients[index, default: 0] < Self.maxTCPClientsPerNetwork else { return false }
                s.tcpClients[index, default: 0] += 1
                return true
            }
            guard admitted else {
                connection.close()
                continue
            }
            startThread(name: "bhatti-dns-tcp") {
                self.serveTCP(connection, index: index, peer: peer)
                self.state.withLock { s in
                    s.tcpClients[index, default: 1] -= 1
                    if s.tcpClients[index] == 0 { s.tcpClients[index] = nil }
                }
            }
        }
    }

    /// One TCP client, on its own thread: queries in turn until it closes or goes quiet. A forwarded
    /// query gets a connection of its own to an upstream, and its reply back unchanged.
    private func serveTCP(_ connection: FileDescriptor, index: Int, peer: DNSEndpoint) {
        defer { connection.close() }
        DNSSockets.setDeadlines(connection, milliseconds: Self.tcpDeadlineMilliseconds)
        // A client's whole stay is bounded: each message must arrive whole before the deadline.
        let leave = ContinuousClock.now + .seconds(30)
        for _ in 0..<64 where ContinuousClock.now < leave {
            guard let packet = DNSSockets.readFrame(connection, until: leave), let zone = state.withLock({ $0.zones[index] }) else {
                return
            }
            let reply: [UInt8]
            switch zone.decide(packet, from: peer.address) {
            case .drop: return
            case .answer(let bytes): reply = bytes
            case .forward(let query):
                reply = forwardTCP(packet, query: query) ?? DNSAnswer.empty(query, .serverFailure, authoritative: false)
            }
            guard DNSSockets.writeFrame(connection, reply) else { return }
        }
    }

    private func forwardTCP(_ packet: [UInt8], query: DNSQuery) -> [UInt8]? {
        for endpoint in upstreams {
            guard let server = DNSSockets.connect(endpoint, timeoutMilliseconds: Int32(Self.tcpDeadlineMilliseconds)) else { continue }
            defer { server.close() }
            guard DNSSockets.writeFrame(server, packet),
                let reply = DNSSockets.readFrame(server, until: .now + .milliseconds(Self.tcpDeadlineMilliseconds)),
                let (id, isResponse) = DNSQuery.header(reply), isResponse, id == query.id,
                let (range, _) = DNSQuery.question(in: reply), reply[range].elementsEqual(query.question)
            else { continue }
            return reply
        }
        return nil
    }
}
