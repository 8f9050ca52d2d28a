import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Per-user networks with real VMs: every packet stays inside namespaces this test's daemon made.
@Suite("Networking", .serialized, .timeLimit(.minutes(10)))
struct NetworkTests {
    /// Networking on, in a pool of its own: host routes are global, and a daemon already running on
    /// this host (or another test's) uses the default pool.
    static func networked(_ config: inout DaemonConfiguration) {
        config.network = true
        config.networkPool = "100.\(Int.random(in: 96...126)).\(Int.random(in: 0...15) * 16).0/20"
    }

    /// A configuration step that gives every daemon it starts the same fresh pool: a restarted daemon
    /// finds its users' networks again.
    static func sameNetwork(
        _ choose: (inout DaemonConfiguration) -> Void = { networked(&$0) }
    ) -> (inout DaemonConfiguration) -> Void {
        var first = DaemonConfiguration()
        choose(&first)
        let pool = first.networkPool
        return { config in
            config.network = true
            config.networkPool = pool
        }
    }

    /// Tries a TCP connection from inside the guest; prints `open` or the error.
    static func probe(_ host: String, _ port: Int) -> String {
        """
        import socket
        s = socket.socket(); s.settimeout(3)
        try:
            s.connect(("\(host)", \(port))); print("open")
        except Exception as e:
            print(type(e).__name__, e)
        """
    }

    @Test(
        "same user reaches its sandboxes (TCP and ping) by address and name, another user's do not, the host does not; addresses stay across cold and restarts; forks get their own"
    )
    func isolation() async throws {
        try await withDaemon(configure: { Self.networked(&$0) }) { d in
            let users = try await d.call("POST", "/v1/users", json: #"{"name":"bob"}"#)
            let bob = try JSONDecoder().decode(UserKeyDTO.self, from: Data(users.body)).apiKey

            let a = try await d.create("a")
            let b = try await d.create("b")
            let cReply = try await d.raw(
                "POST", "/v1/sandboxes", headers: ["Authorization": "Bearer \(bob)"], body: Array(#"{"name":"c","memory_mb":512}"#.utf8))
            #expect(cReply.status == 201, "\(cReply.text)")
            let c = try JSONDecoder().decode(SandboxDTO.self, from: Data(cReply.body))
            let (aIP, bIP, cIP) = (try #require(a.ip), try #require(b.ip), try #require(c.ip))
            #expect(aIP.hasPrefix("100.") && bIP.hasPrefix("100.") && cIP.hasPrefix("100."))
            #expect(aIP.split(separator: ".")[2] == bIP.split(separator: ".")[2], "one user, one /24")
            #expect(aIP.split(separator: ".")[2] != cIP.split(separator: ".")[2], "another user, another /24")
            #expect(try await d.exec("a", ["sh", "-c", "ip -4 -o addr show eth0"]).stdout.contains(aIP + "/24"))
            let gateway = aIP.split(separator: ".").prefix(3).joined(separator: ".") + ".1"
            #expect(
                try await d.exec("a", ["cat", "/etc/resolv.conf"]).stdout == "nameserver \(gateway)\noptions timeout:2 attempts:2\n",
                "the guest's only resolver is its user's gateway")

            // A server in b; a reaches it, c (bob) does not.
            #expect(
                try await d.call("POST", "/v1/sandboxes/b/exec", json: #"{"cmd":["python3","-m","http.server","8000"],"detach":true}"#)
                    .status == 200)
            // Until b's server is up (python starts in tens of seconds beside other VMs under TCG).
            var fromA = ""
            _ = try await eventually(interval: .milliseconds(200)) {
                fromA = try await d.exec("a", ["python3", "-c", Self.probe(bIP, 8000)]).stdout
                return fromA == "open\n"
            }
            #expect(fromA == "open\n")
            // ICMP too: a pings b; bob's c cannot.
            #expect(try await d.exec("a", ["sudo", "ping", "-c", "1", "-W", "30", bIP]).exitCode == 0)
            let ping = try await d.raw(
                "POST", "/v1/sandboxes/c/exec", headers: ["Authorization": "Bearer \(bob)"],
                body: Array(try JSONEncoder().encode(ExecRequestDTO(cmd: ["sudo", "ping", "-c", "1", "-W", "2", bIP]))))
            #expect(try JSONDecoder().decode(ExecResultDTO.self, from: Data(ping.body)).exitCode != 0)
            // By name too: each guest's /etc/hosts lists its user's sandboxes, and only those.
            var byName = ""
            _ = try await eventually(interval: .milliseconds(200)) {
                byName = try await d.exec("a", ["python3", "-c", Self.probe("b", 8000)]).stdout
                return byName == "open\n"
            }
            #expect(byName == "open\n", "a reaches b by name")
            let hostsInA = try await d.exec("a", ["cat", "/etc/hosts"]).stdout
            #expect(hostsInA.contains("\(bIP) b") && !hostsInA.contains(cIP), "\(hostsInA)")
            let fromC = try await d.raw(
                "POST", "/v1/sandboxes/c/exec", headers: ["Authorization": "Bearer \(bob)"],
                body: Array(try JSONEncoder().encode(ExecRequestDTO(cmd: ["python3", "-c", Self.probe(bIP, 8000)]))))
            let cOut = try JSONDecoder().decode(ExecResultDTO.self, from: Data(fromC.body)).stdout
            if cOut == "open\n" {
                let state = (try? runTool("/usr/sbin/nft", ["list", "ruleset"])) ?? "?"
                let routes = (try? runTool("/usr/sbin/ip", ["route"])) ?? "?"
                Issue.record("bob's sandbox reached alice's; a=\(aIP) b=\(bIP) c=\(cIP)\nnft: \(state)\nroutes: \(routes)")
            }
            #expect(!cOut.isEmpty)
            // The host: no route out of the user's namespace (the daemon's TCP port on the host's own address).
            let port = try #require(d.daemon.tcpPort)
            let toHost = try await d.exec(
                "a", ["python3", "-c", Self.probe(aIP.split(separator: ".").prefix(3).joined(separator: ".") + ".1", port)]
            ).stdout
            #expect(toHost != "open\n", "the sandbox reached the daemon's port through its gateway")
            let hostAddress = try await Blocking.run { Self.hostAddress() }
            if let hostAddress {
                let out = try await d.exec("a", ["python3", "-c", Self.probe(hostAddress, port)]).stdout
                #expect(!out.isEmpty && out != "open\n", "the host's address must be unroutable from a sandbox: \(out)")
            }

            // Cold and back: the same address, and b's server is still reachable from a's restored VM.
            #expect(try await d.call("POST", "/v1/sandboxes/a/stop").text.contains(#""state":"cold""#))
            #expect(try await d.exec("a", ["python3", "-c", Self.probe(bIP, 8000)]).stdout == "open\n")
            #expect(try await d.get("a").ip == aIP)

            // A fork has its own address and MAC, and both work.
            let fork = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"a2","from":"a"}"#)
            #expect(fork.status == 201, "\(fork.text)")
            let a2IP = try #require(try JSONDecoder().decode(SandboxDTO.self, from: Data(fork.body)).ip)
            #expect(a2IP != aIP)
            let a2Addr = try await d.exec("a2", ["sh", "-c", "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address"]).stdout
            let aAddr = try await d.exec("a", ["sh", "-c", "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address"]).stdout
            #expect(a2Addr.contains(a2IP + "/24") && !a2Addr.contains(aIP + "/"), "\(a2Addr)")
            #expect(a2Addr.split(separator: "\n").last != aAddr.split(separator: "\n").last, "the fork kept its parent's MAC")
            #expect(try await d.exec("a2", ["python3", "-c", Self.probe(bIP, 8000)]).stdout == "open\n")
            var a2Known = ""
            _ = try await eventually(interval: .milliseconds(200)) {
                a2Known = try await d.exec("b", ["getent", "hosts", "a2"]).stdout
                return a2Known.contains(a2IP)
            }
            #expect(a2Known.contains(a2IP), "a new sandbox's name reaches the others")

            // Bob's last sandbox gone: his namespace goes with it; alice's stays.
            let network = try #require(d.daemon.network)
            let before = await network.existing()
            #expect(before.count == 2)
            #expect(try await d.raw("DELETE", "/v1/sandboxes/c", headers: ["Authorization": "Bearer \(bob)"]).status == 200)
            #expect(await network.existing().count == 1)
        }
    }

    @Test("after a restart, namespaces of users without sandboxes are removed and the others kept")
    func orphans() async throws {
        let sameNetwork = NetworkTests.sameNetwork()
        let d = try await TestDaemon.start(configure: sameNetwork)
        let network = try #require(d.daemon.network)
        let live: [Int]
        do {
            _ = try await d.create("keep")
            live = await network.existing()
            #expect(live.count == 1)
        } catch {
            await d.stop()  // its namespace and host table too
            throw error
        }
        await d.stop(keepData: true)
        let orphan = network.namespace(index: 77)
        _ = try await Blocking.run { try runTool("/usr/sbin/ip", ["netns", "add", orphan]) }
        let again = try await TestDaemon.start(dataDirectory: d.dataDirectory, configure: sameNetwork)
        do {
            #expect(await network.existing() == live, "the orphan went, the live namespace stayed")
            #expect(try await again.exec("keep", ["true"]).exitCode == 0)
            // The restarted daemon's DNS knows the user's names.
            let ip = try #require(try await again.get("keep").ip)
            #expect(try await again.exec("keep", ["getent", "ahostsv4", "keep.bhatti"]).stdout.contains(ip))
        } catch {
            await again.stop()
            throw error
        }
        await again.stop()
        #expect(await network.existing().isEmpty)
    }

    @Test(
        "egress: public reaches an address outside (a namespace this test makes), deny blocks it, deny with an allowed CIDR reaches it; the host stays unreachable"
    )
    func egress() async throws {
        let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let ns = "bhtout-" + tag
        let hostEnd = "bho" + tag
        let subnet = Int.random(in: 0...250)
        let (hostIP, outsideIP) = ("198.18.\(subnet).1", "198.18.\(subnet).2")
        let ip = "/usr/sbin/ip"
        for args in [
            ["netns", "add", ns], ["link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", ns],
            ["addr", "add", hostIP + "/30", "dev", hostEnd], ["link", "set", hostEnd, "up"],
            ["-n", ns, "addr", "add", outsideIP + "/30", "dev", "eth0"], ["-n", ns, "link", "set", "eth0", "up"],
            ["-n", ns, "link", "set", "lo", "up"],
        ] {
            _ = try await Blocking.run { try runTool(ip, args) }
        }
        // The server's directory holds a 2 MiB file for the network limit's check.
        let served = NSTemporaryDirectory() + "bhtout-" + tag
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 2 << 20).write(to: URL(fileURLWithPath: served + "/blob"))
        defer { try? FileManager.default.removeItem(atPath: served) }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: ip)
        server.currentDirectoryURL = URL(fileURLWithPath: served)
        server.arguments = ["netns", "exec", ns, "python3", "-m", "http.server", "8080", "--bind", outsideIP]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)  // SIGTERM may be blocked in the mask it inherits
            _ = try? runTool(ip, ["netns", "del", ns])
            _ = try? runTool(ip, ["link", "del", hostEnd])
        }
        try await withDaemon(configure: { config in
            Self.networked(&config)
            config.listen = "0.0.0.0:0"
        }) { d in
            _ = try await d.create("pub")
            for (name, body) in [
                ("den", #"{"name":"den","memory_mb":512,"egress":"deny"}"#),
                ("alw", #"{"name":"alw","memory_mb":512,"egress":"deny","allow_cidrs":["198.18.\#(subnet).0/30"]}"#),
            ] {
                let r = try await d.call("POST", "/v1/sandboxes", json: body)
                #expect(r.status == 201, "\(name): \(r.text)")
            }
            #expect(try await d.get("den").egress == "deny")
            var pub = ""
            _ = try await eventually(interval: .milliseconds(200)) {
                pub = try await d.exec("pub", ["python3", "-c", Self.probe(outsideIP, 8080)]).stdout
                return pub == "open\n"
            }
            #expect(pub == "open\n", "public egress reaches the outside namespace")
            #expect(try await d.exec("den", ["python3", "-c", Self.probe(outsideIP, 8080)]).stdout != "open\n", "deny blocks it")
            #expect(
                try await d.exec("alw", ["python3", "-c", Self.probe(outsideIP, 8080)]).stdout == "open\n", "an allowed CIDR gets through")
            // The host's end of the user's veth, and the daemon listening on every address: unreachable.
            let network = try #require(d.daemon.network)
            let port = try #require(d.daemon.tcpPort)
            let index = try #require(await network.existing().first)
            let toHost = try await d.exec("pub", ["python3", "-c", Self.probe(network.veth(index: index).hostAddress, port)]).stdout
            #expect(toHost != "open\n", "a sandbox reached the daemon on the host")
            let bad = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"x","egress":"deny","allow_cidrs":["nope"]}"#)
            #expect(bad.status == 400)

            // A network limit shapes the user's traffic at once: the download passes through the token
            // bucket on the host's end of the veth, which holds packets back (its overlimits count). Not
            // timed: the guest's clock under emulation timed 2 MiB at 8 Mbit/s at 1.46 s once.
            let fetch =
                "import time,urllib.request as u; t=time.time(); n=len(u.urlopen('http://\(outsideIP):8080/blob').read()); print(n, time.time()-t)"
            func download() async throws -> Double {
                let out = try await d.exec("pub", ["python3", "-c", fetch], timeout: 60).stdout.split(separator: " ")
                #expect(out.first == "2097152", "\(out)")
                return Double(out.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            }
            let set = try await d.call("PATCH", "/v1/users/admin", json: #"{"io_limits":{"net_mbit_per_s":8}}"#)
            #expect(set.status == 200, "\(set.text)")
            let qdisc = try await Blocking.run {
                try runTool("/usr/sbin/tc", ["-n", network.namespace(index: index), "qdisc", "show", "dev", "up0"])
            }
            #expect(qdisc.contains("tbf") && qdisc.contains("rate 8Mbit"), "\(qdisc)")
            let hostEnd = network.veth(index: index).host
            let before = try await Blocking.run { try runTool("/usr/sbin/tc", ["-s", "qdisc", "show", "dev", hostEnd]) }
            let seconds = try await download()
            let after = try await Blocking.run { try runTool("/usr/sbin/tc", ["-s", "qdisc", "show", "dev", hostEnd]) }
            let sent = (Self.counter("Sent", in: after) ?? 0) - (Self.counter("Sent", in: before) ?? 0)
            let heldBack = (Self.counter("overlimits", in: after) ?? 0) - (Self.counter("overlimits", in: before) ?? 0)
            #expect(sent >= 2_097_152, "the download did not pass the host end's bucket: \(after)")
            #expect(heldBack > 0, "2 MiB in \(seconds) s and the bucket held nothing back: \(after)")
            #expect(try await d.call("PATCH", "/v1/users/admin", json: #"{"io_limits":null}"#).status == 200)
            let cleared = try await Blocking.run {
                try runTool("/usr/sbin/tc", ["-n", network.namespace(index: index), "qdisc", "show", "dev", "up0"])
            }
            #expect(!cleared.contains("tbf"), "\(cleared)")
        }
    }

    /// The number after `name` in `tc -s` output ("Sent 123 bytes", "overlimits 4").
    static func counter(_ name: String, in text: String) -> Int? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" || $0 == "," })
        guard let at = words.firstIndex(where: { $0 == name }), at + 1 < words.count else { return nil }
        return Int(words[at + 1])
    }

    /// The host's first non-loopback IPv4 address, if any.
    static func hostAddress() -> String? {
        let out = (try? runTool("/usr/bin/hostname", ["-I"])) ?? ""
        return out.split(separator: " ").map(String.init).first { $0.contains(".") && !$0.hasPrefix("127.") }
    }

    @Test("a new user's first sandboxes, created at once, all boot: the user's network is set up once, not raced")
    func concurrentFirstCreates() async throws {
        try await withDaemon(configure: { Self.networked(&$0) }) { d in
            let users = try await d.call("POST", "/v1/users", json: #"{"name":"eve"}"#)
            let eve = try JSONDecoder().decode(UserKeyDTO.self, from: Data(users.body)).apiKey
            let socket = d.daemon.socketPath
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<3 {
                    group.addTask {
                        // A connection each, so the creates reach the daemon together.
                        let r = try await d.raw(
                            "POST", "/v1/sandboxes", headers: ["Authorization": "Bearer \(eve)"],
                            body: Array(#"{"name":"e\#(i)","memory_mb":256}"#.utf8), via: HTTPClient(endpoint: .unix(path: socket)))
                        return "\(r.status) \(r.text)"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(answers.count == 3 && answers.allSatisfy { $0.hasPrefix("201") }, "\(answers)")
        }
    }
}
