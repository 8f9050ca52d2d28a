import BhattiSystem
import Foundation
import Testing

@testable import BhattiEngine

/// A query as a resolver sends it: header, one question, optionally an EDNS OPT record.
func dnsQuery(id: UInt16 = 0x1234, _ name: String, type: UInt16 = 1, qclass: UInt16 = 1, flags: UInt16 = 0x0100, edns: Bool = false)
    -> [UInt8]
{
    var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]
    for label in name.split(separator: ".") {
        out.append(UInt8(label.utf8.count))
        out += Array(label.utf8)
    }
    out += [0, UInt8(type >> 8), UInt8(type & 0xFF), UInt8(qclass >> 8), UInt8(qclass & 0xFF)]
    if edns { out += [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0] }
    return out
}

@Suite("DNS messages, the per-user zone and forwarding state")
struct DNSTests {
    @Test("parse: a standard query's id, name (lowercased), type and question; anything else is refused")
    func parse() throws {
        let q = try #require(DNSQuery.parse(dnsQuery(id: 7, "Dev.BHATTI", type: 28, edns: true)))
        #expect(q.id == 7 && q.name == "dev.bhatti" && q.type == 28 && q.qclass == 1 && q.recursionDesired)
        #expect(q.question == Array(dnsQuery("Dev.BHATTI", type: 28)[12...]))
        #expect(DNSQuery.parse(dnsQuery("deb.debian.org"))?.name == "deb.debian.org")
        // Bytes no sandbox name has: still a query (forwarded), never a local name.
        var odd = dnsQuery("ab")
        odd[13] = UInt8(ascii: ".")
        #expect(DNSQuery.parse(odd) != nil && DNSQuery.parse(odd)?.name == nil)

        let base = dnsQuery("dev")
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("header only", Array(base[..<12])),
            (
                "a response",
                {
                    var b = base
                    b[2] |= 0x80
                    return b
                }()
            ),
            (
                "opcode 2 (status)",
                {
                    var b = base
                    b[2] |= 0x10
                    return b
                }()
            ),
            (
                "two questions",
                {
                    var b = base
                    b[5] = 2
                    return b
                }()
            ),
            (
                "no question",
                {
                    var b = base
                    b[5] = 0
                    return b
                }()
            ),
            (
                "a compression pointer",
                {
                    var b = base
                    b[12] = 0xC0
                    return b
                }()
            ),
            (
                "a label past the end",
                {
                    var b = base
                    b[12] = 40
                    return b
                }()
            ),
            ("no type and class", Array(base.dropLast(4))),
            ("unterminated name", Array(base[..<16])),
            ("a name over 255 bytes", dnsQuery(Array(repeating: String(repeating: "a", count: 63), count: 5).joined(separator: "."))),
            ("a 64-byte label", dnsQuery(String(repeating: "a", count: 64))),
        ]
        for (what, bytes) in cases {
            #expect(DNSQuery.parse(bytes) == nil, "\(what)")
        }
        // Garbage of every length never crashes.
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in 0..<300 {
            let bytes = (0..<length).map { _ -> UInt8 in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1
                return UInt8(truncatingIfNeeded: seed >> 33)
            }
            _ = DNSZone(names: ["x": 1], forwarding: [1]).decide(bytes, from: 1)
            var pending = DNSPending<Int>()
            _ = pending.reply(bytes, from: 0)
        }
    }

    @Test("the zone answers the user's names (bare and .bhatti), refuses forwarding to deny sandboxes, forwards the rest")
    func zone() throws {
        let zone = DNSZone(names: DNSZone.names(["Dev": "100.64.1.2", "api.v2": "100.64.1.3", "bad": "nope"]), forwarding: [0x6440_0105])
        let public_: UInt32 = 0x6440_0105
        let denied: UInt32 = 0x6440_0106
        func decide(_ packet: [UInt8], _ source: UInt32 = 0x6440_0105) -> DNSZone.Decision { zone.decide(packet, from: source) }

        let answer = try #require(
            {
                if case .answer(let b) = decide(dnsQuery(id: 9, "dev")) { return b }
                return nil
            }())
        // id, QR|AA|RD, RA, 1 question, 1 answer, the question, then the A record pointing at it.
        #expect(Array(answer[..<12]) == [0, 9, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])
        #expect(Array(answer[12..<(answer.count - 16)]) == Array(dnsQuery("dev")[12...]))
        #expect(Array(answer.suffix(16)) == [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 100, 64, 1, 2])

        // (query, source, expected: "A a.b.c.d", "nodata", "nxdomain", "refused", "forward", "drop")
        let cases: [(String, [UInt8], UInt32, String)] = [
            ("bare name", dnsQuery("dev"), public_, "A 100.64.1.2"),
            ("any case", dnsQuery("DEV"), public_, "A 100.64.1.2"),
            (".bhatti", dnsQuery("dev.bhatti"), public_, "A 100.64.1.2"),
            ("dotted name", dnsQuery("api.v2.bhatti"), public_, "A 100.64.1.3"),
            ("a deny sandbox still gets names", dnsQuery("dev"), denied, "A 100.64.1.2"),
            ("AAAA of a sandbox: no data", dnsQuery("dev", type: 28), public_, "nodata"),
            ("MX of a sandbox: no data", dnsQuery("dev.bhatti", type: 15), public_, "nodata"),
            ("ANY", dnsQuery("dev", type: 255), public_, "A 100.64.1.2"),
            ("unknown .bhatti: no such name, not forwarded", dnsQuery("other.bhatti"), public_, "nxdomain"),
            ("the suffix alone", dnsQuery("bhatti"), public_, "nxdomain"),
            ("an unparsable address is no name", dnsQuery("bad"), public_, "forward"),
            ("outside name, public", dnsQuery("deb.debian.org"), public_, "forward"),
            ("outside name, deny", dnsQuery("deb.debian.org"), denied, "refused"),
            (
                "a response",
                {
                    var b = dnsQuery("dev")
                    b[2] |= 0x80
                    return b
                }(), public_, "drop"
            ),
        ]
        for (what, packet, source, expected) in cases {
            let got: String
            switch decide(packet, source) {
            case .drop: got = "drop"
            case .forward(let q): got = q.id == 0x1234 ? "forward" : "forward with id \(q.id)"
            case .answer(let b):
                let code = b[3] & 0x0F
                let answers = Int(b[6]) << 8 | Int(b[7])
                if code == 0 && answers == 1 {
                    got = "A " + b.suffix(4).map(String.init).joined(separator: ".")
                } else {
                    got = [0: "nodata", 3: "nxdomain", 5: "refused"][code] ?? "rcode \(code)"
                }
            }
            #expect(got == expected, "\(what)")
        }
    }

    @Test(
        "pending: fresh ids, replies only from an asked upstream with the same question, the client's id restored, retries then forgets, bounded"
    )
    func pending() throws {
        let clock = ContinuousClock()
        let t0 = clock.now
        var ids: [UInt16] = [42, 42, 43, 44, 45]
        var table = DNSPending<String>(capacity: 3, attemptTimeout: .seconds(1))
        let packet = dnsQuery(id: 7, "example.com", edns: true)
        let query = try #require(DNSQuery.parse(packet))
        let first = table.add(query, packet: packet, from: "guest-a", group: 0, now: t0, randomID: { ids.removeFirst() })
        let sent = try #require(first)
        #expect(Array(sent[..<2]) == [0, 42] && Array(sent[2...]) == Array(packet[2...]), "new id, the rest byte for byte")
        // The same id is never handed out twice while pending.
        let second = table.add(query, packet: packet, from: "guest-b", group: 0, now: t0, randomID: { ids.removeFirst() })
        #expect(second.map { Array($0[..<2]) } == [0, 43])

        func reply(id: UInt16, name: String = "example.com") -> [UInt8] {
            var r = dnsQuery(id: id, name)
            r[2] |= 0x80
            r[7] = 1
            return r + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]
        }
        #expect(table.reply(reply(id: 42), from: 1) == nil, "upstream 1 was not asked yet")
        #expect(table.reply(reply(id: 42, name: "evil.com"), from: 0) == nil, "another question")
        #expect(table.reply(dnsQuery(id: 42, "example.com"), from: 0) == nil, "not a response")
        #expect(table.reply(reply(id: 99), from: 0) == nil, "nothing pending under that id")
        let answered = table.reply(reply(id: 42), from: 0)
        let (client, bytes) = try #require(answered)
        #expect(client == "guest-a" && Array(bytes[..<2]) == [0, 7] && Array(bytes[2...]) == Array(reply(id: 42)[2...]))
        #expect(table.reply(reply(id: 42), from: 0) == nil, "answered once")

        // Bounded: two more fit, the fourth is dropped.
        #expect(table.add(query, packet: packet, from: "c", group: 1, now: t0, randomID: { ids.removeFirst() }) != nil)
        #expect(table.add(query, packet: packet, from: "d", group: 1, now: t0, randomID: { ids.removeFirst() }) != nil)
        #expect(table.add(query, packet: packet, from: "e", group: 2, now: t0, randomID: { 1 }) == nil)

        // Time: nothing before the deadline; then each goes to upstream 1; then they are forgotten.
        #expect(table.nextDeadline == t0 + .seconds(1))
        #expect(table.expire(now: t0 + .milliseconds(999), upstreams: 2).isEmpty)
        let retries = table.expire(now: t0 + .seconds(1), upstreams: 2)
        #expect(retries.count == 3 && retries.allSatisfy { $0.upstream == 1 })
        #expect(table.reply(reply(id: 43), from: 1)?.0 == "guest-b", "the next upstream answers")
        #expect(table.reply(reply(id: 44), from: 0)?.0 == "c", "a late answer from the first still counts")
        #expect(table.expire(now: t0 + .seconds(2), upstreams: 2).isEmpty)
        #expect(table.entries.isEmpty && table.nextDeadline == nil && table.pending(group: 1) == 0)

        // One group (a user's network) cannot take the others' share.
        var shared = DNSPending<Int>(capacity: 10, groupCapacity: 3)
        var next: UInt16 = 0
        let results = (0..<5).map { i in
            shared.add(
                query, packet: packet, from: i, group: 7, now: t0,
                randomID: {
                    next += 1
                    return next
                }) != nil
        }
        #expect(results == [true, true, true, false, false])
        #expect(
            shared.add(
                query, packet: packet, from: 9, group: 8, now: t0,
                randomID: {
                    next += 1
                    return next
                }) != nil)
        #expect(shared.pending(group: 7) == 3 && shared.pending(group: 8) == 1)
        _ = shared.expire(now: t0 + .seconds(60), upstreams: 1)
        #expect(shared.pending(group: 7) == 0 && shared.entries.isEmpty, "forgotten queries free their group's share")
    }

    @Test("resolv.conf: IPv4 name servers in order, loopback stubs kept, comments, IPv6 and junk left out")
    func resolvConf() {
        let cases: [(String, [String])] = [
            ("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", ["127.0.0.53"]),
            ("# comment\nnameserver 10.1.2.3 # office\nsearch x\nnameserver\tfe80::1\nnameserver 9.9.9.9\n", ["10.1.2.3", "9.9.9.9"]),
            ("nameserver 1.1.1.1\r\nnameserver 1.1.1.1\n;nameserver 8.8.8.8\n", ["1.1.1.1"]),
            ("nameserver 256.1.1.1\nnameserver 1.2.3\nnameserver +1.2.3.4\nnameserver\nnameservers 1.1.1.1\n", []),
            ("", []),
        ]
        for (text, expected) in cases {
            #expect(ResolvConf.nameServers(text) == expected, "\(text)")
        }
    }

    @Test("egress rules: allowed CIDRs first, deny drops, non-public destinations dropped unless allowed, IPv6 never leaves")
    func egressRules() {
        let rules = [
            NetworkManager.Egress(address: "100.64.0.2", deny: false, allow: []),
            NetworkManager.Egress(address: "100.64.0.3", deny: true, allow: ["198.18.0.0/30"]),
            NetworkManager.Egress(address: "100.64.0.4", deny: false, allow: ["10.9.0.0/16", "192.168.1.5/32"]),
        ]
        let nonPublic =
            "oifname \"up0\" ip daddr { 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/4, 240.0.0.0/4 } drop"
        #expect(
            NetworkManager.egressRules(rules, allowPrivate: false) == [
                "ip saddr 100.64.0.3 ip daddr { 198.18.0.0/30 } accept",
                "ip saddr 100.64.0.4 ip daddr { 10.9.0.0/16, 192.168.1.5/32 } accept",
                "ip saddr 100.64.0.3 oifname \"up0\" drop",
                nonPublic,
                "oifname \"up0\" meta nfproto ipv6 drop",
            ])
        #expect(
            NetworkManager.egressRules(rules, allowPrivate: true) == [
                "ip saddr 100.64.0.3 ip daddr { 198.18.0.0/30 } accept",
                "ip saddr 100.64.0.4 ip daddr { 10.9.0.0/16, 192.168.1.5/32 } accept",
                "ip saddr 100.64.0.3 oifname \"up0\" drop",
                "oifname \"up0\" meta nfproto ipv6 drop",
            ])
    }
}

@Suite("DNS over TCP")
struct DNSFrameTests {
    @Test("a message must arrive whole by its deadline: a peer trickling bytes is dropped, however short each gap")
    func trickleIsCutAtTheDeadline() throws {
        let (ours, theirs) = try Pipe.socketPair()
        defer {
            ours.close()
            theirs.close()
        }
        let message = dnsQuery("slow.example")
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        // A byte every 10 ms: each read's own timeout would never fire, the whole message takes far
        // longer than the 100 ms deadline.
        let writer = Thread {
            for byte in framed {
                guard (try? theirs.writeAll([byte])) != nil else { return }
                usleep(10_000)
            }
        }
        writer.start()
        #expect(DNSSockets.readFrame(ours, until: .now + .milliseconds(100)) == nil)
        // Sent whole and at once, the same message is read.
        let (a, b) = try Pipe.socketPair()
        defer {
            a.close()
            b.close()
        }
        try b.writeAll(framed)
        #expect(DNSSockets.readFrame(a, until: .now + .seconds(60)) == message)
    }
}
