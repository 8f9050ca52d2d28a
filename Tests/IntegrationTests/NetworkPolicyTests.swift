import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Glibc
import Synchronization
import Testing

@testable import BhattiEngine

/// Each user's DNS, private egress and isolation between daemons, with real VMs. Traffic stays on this
/// host's loopback and inside namespaces these tests (or their daemons) make.
@Suite("Network policy", .serialized, .timeLimit(.minutes(10)))
struct NetworkPolicyTests {
    /// A pool of its own per daemon (host routes are global), distinct from another daemon's in the test.
    static func networked(_ config: inout DaemonConfiguration, pool: Int) {
        config.network = true
        config.networkPool = "100.\(96 + pool).\(Int.random(in: 0...15) * 16).0/20"
    }

    @Test(
        "a host whose resolv.conf names only a loopback stub: guests resolve upstream names through their gateway (UDP and TCP), and their own sandboxes' names"
    )
    func dnsThroughLoopbackStub() async throws {
        // systemd-resolved's stub lives on 127.0.0.53; a random loopback address keeps clear of a real one.
        let stub = "127.53.\(Int.random(in: 1...254)).\(Int.random(in: 1...254))"
        let upstream = try FakeUpstream(address: stub, names: ["upstream.test": "198.18.77.77"])
        defer { upstream.stop() }
        let resolvConf = NSTemporaryDirectory() + "bht-resolv-\(UInt32.random(in: 0...UInt32.max))"
        try "# systemd-resolved\nnameserver \(stub)\noptions edns0 trust-ad\nsearch .\n".write(
            toFile: resolvConf, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: resolvConf) }

        try await withDaemon(configure: { config in
            Self.networked(&config, pool: 0)
            config.resolvConf = resolvConf
        }) { d in
            let a = try await d.create("a")
            let b = try await d.create("b")
            let (aIP, bIP) = (try #require(a.ip), try #require(b.ip))
            let gateway = aIP.split(separator: ".").prefix(3).joined(separator: ".") + ".1"
            #expect(try await d.exec("a", ["cat", "/etc/resolv.conf"]).stdout == "nameserver \(gateway)\noptions timeout:2 attempts:2\n")

            // A name only the loopback stub knows, through glibc (UDP).
            let viaLibc = try await d.exec("a", ["getent", "ahostsv4", "upstream.test"])
            #expect(viaLibc.exitCode == 0 && viaLibc.stdout.contains("198.18.77.77"), "\(viaLibc.stdout)\(viaLibc.stderr)")
            #expect(
                try await d.exec("a", ["python3", "-c", "import socket; print(socket.gethostbyname('upstream.test'))"]).stdout
                    == "198.18.77.77\n")
            #expect(try await d.exec("a", ["getent", "ahostsv4", "missing.test"]).exitCode != 0, "the stub's NXDOMAIN comes through")
            #expect(upstream.udpQueries > 0)
            // And over TCP (what resolvers fall back to for large answers).
            let tcp = try await d.exec("a", ["python3", "-c", Self.tcpQuery(server: gateway, name: "upstream.test")])
            #expect(tcp.stdout == "4242 0 198.18.77.77\n", "\(tcp.stdout)\(tcp.stderr)")
            #expect(upstream.tcpQueries > 0)

            // Another sandbox of the user by name from DNS itself (`.bhatti` is not in /etc/hosts), over
            // UDP and TCP; upstream is not asked.
            let before = upstream.udpQueries
            let sibling = try await d.exec("a", ["getent", "ahostsv4", "b.bhatti"])
            #expect(sibling.stdout.contains(bIP), "\(sibling.stdout)\(sibling.stderr)")
            let siblingTCP = try await d.exec("a", ["python3", "-c", Self.tcpQuery(server: gateway, name: "B")])
            #expect(siblingTCP.stdout == "4242 0 \(bIP)\n", "\(siblingTCP.stdout)\(siblingTCP.stderr)")
            #expect(try await d.exec("a", ["getent", "ahostsv4", "nobody.bhatti"]).exitCode != 0)
            #expect(upstream.udpQueries == before, "a .bhatti name never leaves the host")

            // Garbage (UDP datagrams of every size, a TCP stream of junk) is dropped; the responder carries on.
            let junk = try await d.exec("a", ["python3", "-c", Self.junk(server: gateway)], timeout: 60)
            #expect(junk.exitCode == 0, "\(junk.stderr)")
            #expect(try await d.exec("a", ["getent", "ahostsv4", "upstream.test"]).stdout.contains("198.18.77.77"))
            // Forwarding is for the user's public sandboxes (a deny one is refused: `DNSTests.zone`).
            let network = try #require(d.daemon.network)
            let index = try #require(await network.existing().first)
            #expect(network.dns.zone(index: index)?.forwarding == Set([aIP, bIP].compactMap { IPv4.parse($0) }))

            // A rename reaches DNS; a destroyed sandbox's name goes.
            #expect(try await d.call("PATCH", "/v1/sandboxes/b", json: #"{"name":"bee"}"#).status == 200)
            #expect(try await d.exec("a", ["getent", "ahostsv4", "bee.bhatti"]).stdout.contains(bIP))
            #expect(try await d.call("DELETE", "/v1/sandboxes/bee").status == 200)
            #expect(try await d.exec("a", ["getent", "ahostsv4", "bee.bhatti"]).exitCode != 0)
        }
    }

    @Test(
        "public egress: a private address is refused by default, reachable with the sandbox's allow_cidrs or the config's allow_private_egress; guests of another daemon stay out of reach even then"
    )
    func privateEgress() async throws {
        let outside = try PrivateNetwork()
        defer { outside.remove() }

        try await withDaemon(configure: { Self.networked(&$0, pool: 1) }) { d in
            _ = try await d.create("pub")
            let opened = try await d.call(
                "POST", "/v1/sandboxes", json: #"{"name":"opn","memory_mb":512,"allow_cidrs":["\#(outside.cidr)"]}"#)
            #expect(opened.status == 201, "\(opened.text)")
            let opn = try await d.get("opn")
            #expect(opn.allowCIDRs == [outside.cidr] && opn.egress == "public")
            // The allowed one first: once it answers, the listener is up, and the refusal is the policy's.
            #expect(try await Self.eventuallyOpen(d, "opn", outside.address, 8080))
            let pub = try await d.exec("pub", ["python3", "-c", NetworkTests.probe(outside.address, 8080)]).stdout
            #expect(!pub.isEmpty && pub != "open\n", "public egress reached a private address: \(pub)")

            // A second daemon, private egress allowed: its guest reaches the private listener, but not the
            // first daemon's network (the DNS listener on its user's gateway).
            try await withDaemon(configure: { config in
                Self.networked(&config, pool: 2)
                config.allowPrivateEgress = true
            }) { other in
                _ = try await other.create("wide")
                #expect(try await Self.eventuallyOpen(other, "wide", outside.address, 8080))
                let pubIP = try #require(try await d.get("pub").ip)
                let firstGateway = pubIP.split(separator: ".").prefix(3).joined(separator: ".") + ".1"
                let across = try await other.exec("wide", ["python3", "-c", NetworkTests.probe(firstGateway, 53)]).stdout
                #expect(!across.isEmpty && across != "open\n", "a guest reached another daemon's user network: \(across)")
            }
        }
    }

    @Test("after a host reboot (every namespace gone) the restarted daemon's DNS knows the user's names once the network is back")
    func dnsAfterReboot() async throws {
        let sameNetwork = NetworkTests.sameNetwork { Self.networked(&$0, pool: 3) }
        let d = try await TestDaemon.start(configure: sameNetwork)
        let network = try #require(d.daemon.network)
        let ip: String
        do {
            ip = try #require(try await d.create("kept").ip)
        } catch {
            await d.stop()
            throw error
        }
        await d.stop(keepData: true)
        // A reboot: the namespaces and the host table are gone (the sandbox is cold on disk).
        _ = await network.removeAll()
        let again = try await TestDaemon.start(dataDirectory: d.dataDirectory, configure: sameNetwork)
        do {
            #expect(await network.existing().isEmpty)
            let resolved = try await again.exec("kept", ["getent", "ahostsv4", "kept.bhatti"])
            #expect(resolved.stdout.contains(ip), "\(resolved.stdout)\(resolved.stderr)")
        } catch {
            await again.stop()
            throw error
        }
        await again.stop()
    }

    @Test("allow_private_egress and resolv_conf are read from the config file; absent, private egress is off and /etc/resolv.conf is used")
    func configKeys() throws {
        let path = NSTemporaryDirectory() + "bht-config-\(UInt32.random(in: 0...UInt32.max)).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"allow_private_egress": true, "resolv_conf": "/run/bhatti/resolv.conf"}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        let set = try DaemonConfiguration.load(file: path)
        #expect(set.allowPrivateEgress && set.resolvConf == "/run/bhatti/resolv.conf")
        try "{}".write(toFile: path, atomically: true, encoding: .utf8)
        let defaults = try DaemonConfiguration.load(file: path)
        #expect(!defaults.allowPrivateEgress && defaults.resolvConf == "/etc/resolv.conf")
    }

    /// Probes until the port answers (a listener still starting; the deadline only turns a hang into a failure).
    static func eventuallyOpen(_ d: TestDaemon, _ sandbox: String, _ host: String, _ port: Int) async throws -> Bool {
        try await eventually(interval: .milliseconds(250)) {
            try await d.exec(sandbox, ["python3", "-c", NetworkTests.probe(host, port)]).stdout == "open\n"
        }
    }

    /// Sends junk to the responder: random datagrams of 0…600 bytes, responses, truncated headers, and a
    /// TCP stream whose length prefix promises more than comes.
    static func junk(server: String) -> String {
        """
        import os, socket, struct
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in list(range(0, 64)) + [300, 512, 600]:
            u.sendto(os.urandom(n), ("\(server)", 53))
        u.sendto(b"\\x12\\x34\\x81\\x80" + b"\\0" * 8, ("\(server)", 53))
        t = socket.create_connection(("\(server)", 53), timeout=5)
        t.sendall(struct.pack(">H", 4000) + os.urandom(100))
        t.close()
        t = socket.create_connection(("\(server)", 53), timeout=5)
        t.sendall(struct.pack(">H", 5) + b"abcde")
        t.settimeout(5)
        print(t.recv(10))
        """
    }

    /// A DNS query for `name` (A, id 0x4242) over TCP; prints the id, the rcode and the last answer's address.
    static func tcpQuery(server: String, name: String) -> String {
        """
        import socket, struct
        q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(l)]) + l.encode() for l in "\(name)".split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
        s = socket.create_connection(("\(server)", 53), timeout=5)
        s.sendall(struct.pack(">H", len(q)) + q)
        def rd(n):
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c: raise Exception("eof")
                b += c
            return b
        r = rd(struct.unpack(">H", rd(2))[0])
        print(r[:2].hex(), r[3] & 15, ".".join(str(x) for x in r[-4:]))
        """
    }
}

/// A namespace this test makes, on a private /30 routed from the host, with an HTTP listener on 8080:
/// "the operator's internal network".
final class PrivateNetwork: Sendable {
    let namespace: String, hostEnd: String, address: String, cidr: String
    private let server: Process

    init() throws {
        let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let third = Int.random(in: 0...255)
        let fourth = Int.random(in: 0...63) * 4
        namespace = "bhtpriv-" + tag
        hostEnd = "bhp" + tag
        address = "10.213.\(third).\(fourth + 2)"
        cidr = "10.213.\(third).\(fourth)/30"
        let ip = "/usr/sbin/ip"
        for args in [
            ["netns", "add", namespace], ["link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", namespace],
            ["addr", "add", "10.213.\(third).\(fourth + 1)/30", "dev", hostEnd], ["link", "set", hostEnd, "up"],
            ["-n", namespace, "addr", "add", address + "/30", "dev", "eth0"], ["-n", namespace, "link", "set", "eth0", "up"],
            ["-n", namespace, "link", "set", "lo", "up"],
        ] {
            _ = try runTool(ip, args)
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: ip)
        server.arguments = ["netns", "exec", namespace, "python3", "-m", "http.server", "8080", "--bind", address]
        server.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        self.server = server
    }

    func remove() {
        // SIGKILL: the test process's blocked signal mask is inherited, and SIGTERM may never arrive.
        kill(server.processIdentifier, SIGKILL)
        _ = try? runTool("/usr/sbin/ip", ["link", "del", hostEnd])
        _ = try? runTool("/usr/sbin/ip", ["netns", "del", namespace])
    }
}

/// The host's resolver, as a test fake at its narrowest seam: UDP and TCP on `address`:53 (loopback),
/// answering A for `names`, no data for their other types, NXDOMAIN for the rest; counts what it is asked.
final class FakeUpstream: Sendable {
    private let udp: FileDescriptor, tcp: FileDescriptor
    private let counts = Mutex((udp: 0, tcp: 0))
    private let names: [String: UInt32]
    var udpQueries: Int { counts.withLock { $0.udp } }
    var tcpQueries: Int { counts.withLock { $0.tcp } }

    init(address: String, names: [String: String]) throws {
        self.names = DNSZone.names(names)
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { throw Errno.current }
        udp = FileDescriptor(rawValue: raw)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UInt16(53).bigEndian
        sa.sin_addr = in_addr(s_addr: IPv4.parse(address)!.bigEndian)
        let bound = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(raw, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Errno.current }
        tcp = try Socket.listen(host: address, port: 53)
        startThread(name: "fake-dns-udp") { self.serveUDP() }
        startThread(name: "fake-dns-tcp") { self.serveTCP() }
    }

    func stop() {
        udp.close()
        tcp.close()
    }

    private func answer(_ packet: [UInt8]) -> [UInt8]? {
        guard let q = DNSQuery.parse(packet), let name = q.name else { return nil }
        guard let address = names[name] else { return DNSAnswer.empty(q, .nameError, authoritative: true) }
        return q.type == DNSQuery.typeA ? DNSAnswer.address(q, address, ttl: 60) : DNSAnswer.empty(q, .noError, authoritative: true)
    }

    private func serveUDP() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !udp.isClosed {
            guard (try? udp.poll(timeoutMilliseconds: 200)) != nil else { return }
            guard case .datagram(let packet, let from) = DNSSockets.receive(udp, into: &buffer) else { continue }
            counts.withLock { $0.udp += 1 }
            if let reply = answer(packet) { DNSSockets.send(udp, reply, to: from) }
        }
    }

    private func serveTCP() {
        while let connection = try? Socket.accept(tcp) {
            DNSSockets.setDeadlines(connection, milliseconds: 5000)
            if let packet = DNSSockets.readFrame(connection, until: .now + .seconds(60)), let reply = answer(packet) {
                counts.withLock { $0.tcp += 1 }
                _ = DNSSockets.writeFrame(connection, reply)
            }
            connection.close()
        }
    }
}
