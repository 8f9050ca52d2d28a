import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Input a hostile client sends on purpose, through the real daemon's HTTP API: a flood of bad keys,
/// bodies and headers that mean two things, NULs that C strings would cut, oversized names echoed
/// back, and a guest whose disk is full.
@Suite("Hostile input", .serialized, .timeLimit(.minutes(10)))
struct HostileInputTests {
    /// Parses `GET /v1/events` (admin).
    func events(_ d: TestDaemon, _ query: String = "") async throws -> [[String: Any]] {
        let r = try await d.call("GET", "/v1/events?limit=1000" + query)
        #expect(r.status == 200, "\(r.text)")
        return (try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]]) ?? []
    }

    @Test(
        "a flood of bad keys from one address: 401 up to its budget, then 429 with Retry-After; real events stay listed; valid keys still pass"
    )
    func authFailureFlood() async throws {
        // A budget of 20 that does not refill within any test run (one token per 16 hours).
        try await withDaemon(configure: { $0.rateLimits.authFailures = try! RateLimit(perMinute: 1.0 / 1000, burst: 20) }) { d in
            // Real events first.
            let created = try await d.call("POST", "/v1/users", json: #"{"name":"ann"}"#)
            #expect(created.status == 201, "\(created.text)")
            let reply = try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any]
            let ann = try #require(reply?["api_key"] as? String)
            #expect(try await d.call("POST", "/v1/secrets", json: #"{"name":"TOKEN","value":"x"}"#).status == 201)

            // More bad keys than the audit log keeps (10,000), on one kept-alive loopback connection.
            let tcp = HTTPSession(endpoint: .tcp(host: "127.0.0.1", port: try #require(d.daemon.tcpPort)))
            let statuses = try await Blocking.run { () throws -> (codes: [Int: Int], retryAfter: Set<String>) in
                var codes: [Int: Int] = [:]
                var retryAfter = Set<String>()
                for i in 0..<10_500 {
                    let r = try tcp.send(method: "GET", path: "/v1/sandboxes", headers: ["Authorization": "Bearer bht_bad\(i)"])
                    codes[r.status, default: 0] += 1
                    if r.status == 429 { retryAfter.insert(r.headers["Retry-After"] ?? "none") }
                }
                return (codes, retryAfter)
            }
            #expect(statuses.codes == [401: 20, 429: 10_480], "\(statuses.codes)")
            #expect(statuses.retryAfter.allSatisfy { (Int($0) ?? 0) >= 1 }, "\(statuses.retryAfter)")

            // Valid keys from the same address are not refused by someone's failures.
            #expect(try tcp.send(method: "GET", path: "/v1/sandboxes", headers: ["Authorization": "Bearer \(ann)"]).status == 200)
            #expect(
                try tcp.send(method: "GET", path: "/v1/sandboxes", headers: ["Authorization": "Bearer \(d.daemon.adminKey)"]).status == 200)
            // Another source (the unix socket) has its own budget.
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: ["Authorization": "Bearer bht_bad"]).status == 401)

            // The real events are all still listed, and only the 401s were recorded.
            let kinds = try await events(d).compactMap { $0["type"] as? String }
            #expect(kinds.contains("user.created"), "\(kinds.prefix(5))")
            #expect(kinds.contains("secret.set"))
            #expect(kinds.filter { $0 == "auth.failed" }.count == 21, "\(kinds.count)")
        }
    }

    @Test("duplicate JSON keys are refused on every body route, nested ones too (400, naming the key)")
    func duplicateKeys() async throws {
        try await withDaemon { d in
            // No sandbox exists: the body is refused before any lookup (today's behaviour takes the first copy).
            let cases: [(method: String, path: String, body: String, key: String)] = [
                ("POST", "/v1/sandboxes", #"{"name":"a","name":"b"}"#, "name"),
                ("POST", "/v1/sandboxes", #"{"name":"a","labels":{"k":"1","k":"2"}}"#, "k"),
                ("POST", "/v1/sandboxes/nope/exec", #"{"cmd":["true"],"cmd":["false"]}"#, "cmd"),
                ("POST", "/v1/sandboxes/nope/exec", #"{"cmd":["true"],"env":{"A":"1","A":"2"}}"#, "A"),
                ("PATCH", "/v1/sandboxes/nope", #"{"keep_hot":true,"keep_hot":false}"#, "keep_hot"),
                ("POST", "/v1/sandboxes/nope/snapshots", #"{"name":"s","name":"t"}"#, "name"),
                ("POST", "/v1/sandboxes/nope/publish", #"{"port":80,"port":8080}"#, "port"),
                ("POST", "/v1/snapshots/nope/restore", #"{"name":"a","name":"b"}"#, "name"),
                ("POST", "/v1/users", #"{"name":"u","name":"v"}"#, "name"),
                ("PATCH", "/v1/users/nope", #"{"max_sandboxes":1,"max_sandboxes":9}"#, "max_sandboxes"),
                ("POST", "/v1/secrets", #"{"name":"A","value":"1","value":"2"}"#, "value"),
            ]
            for c in cases {
                let r = try await d.call(c.method, c.path, json: c.body)
                #expect(r.status == 400, "\(c.method) \(c.path) \(c.body): \(r.status) \(r.text)")
                #expect(d.errorCode(r) == "invalid_argument")
                #expect(r.text.contains(#"field \"\#(c.key)\" appears more than once"#), "\(c.body): \(r.text)")
            }
            // Nothing was made by any of them.
            #expect(try await d.call("GET", "/v1/users").text.contains("\"name\":\"u\"") == false)
            #expect(try await d.call("GET", "/v1/secrets").text == "[]")
        }
    }

    @Test("two Authorization headers are a 400, whichever comes first; so are two Host headers")
    func twoAuthorizationHeaders() async throws {
        try await withDaemon { d in
            let good = "Bearer \(d.daemon.adminKey)"
            let bad = "Bearer bht_bad"
            for (first, second) in [(good, bad), (bad, good), (good, good)] {
                var headers = HTTPHeaders()
                headers.add("Authorization", first)
                headers.add("authorization", second)
                let r = try await d.raw("GET", "/v1/sandboxes", headers: headers)
                #expect(r.status == 400, "\(first.prefix(12)), \(second.prefix(12)): \(r.status) \(r.text)")
            }
            var hosts = HTTPHeaders()
            hosts.add("Authorization", good)
            hosts.add("Host", "a.example")
            hosts.add("Host", "b.example")
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: hosts).status == 400)
            // One of each still works.
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: ["Authorization": good]).status == 200)
        }
    }

    @Test("errors echo input cut to 64 characters: a 900 KB name, label key, secret, user and path")
    func longInputIsNotEchoed() async throws {
        try await withDaemon { d in
            let huge = String(repeating: "x", count: 900_000) + "!"
            let cases: [(method: String, path: String, body: String?)] = [
                ("POST", "/v1/sandboxes", #"{"name":"\#(huge)"}"#),
                ("POST", "/v1/sandboxes", #"{"name":"ok","labels":{"\#(huge)":"v"}}"#),
                ("POST", "/v1/secrets", #"{"name":"\#(huge)","value":"v"}"#),
                ("POST", "/v1/users", #"{"name":"\#(huge)"}"#),
                ("POST", "/v1/sandboxes", #"{"name":"ok","\#(huge)":1}"#),
                ("GET", "/v1/sandboxes/" + String(repeating: "y", count: 60_000), nil),
                ("GET", "/v1/" + String(repeating: "z", count: 60_000), nil),
            ]
            for c in cases {
                let r = try await d.call(c.method, c.path, json: c.body)
                #expect([400, 404].contains(r.status), "\(c.method) \(c.path.prefix(40)): \(r.status) \(r.text.prefix(200))")
                let message = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body)).error.message
                #expect(message.count <= 1_024 + 1, "\(c.path.prefix(40)) \(c.body?.prefix(40) ?? ""): \(message.count) characters")
                #expect(r.body.count < 2_000, "\(r.body.count) bytes")
            }
            // The name's message keeps a recognisable prefix, cut where it says so.
            let r = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"\#(huge)"}"#)
            let message = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body)).error.message
            #expect(message.hasPrefix("invalid sandbox name \"" + String(repeating: "x", count: 64) + "…\": use"), "\(message)")
        }
    }

    @Test(
        "a NUL in argv, env or cwd is a 400 on exec, create, secrets and piped sessions; ENOSPC on an upload is 507",
        .timeLimit(.minutes(10)))
    func nulAndFullDisk() async throws {
        try await withDaemon { d in
            _ = try await d.create("hostile")
            // A plain exec works, so what follows is refused for its NUL alone.
            let ok = try await d.call("POST", "/v1/sandboxes/hostile/exec", json: #"{"cmd":["echo","a b"]}"#)
            #expect(ok.status == 200 && ok.text.contains(#""stdout":"a b\n""#), "\(ok.text)")
            let refused: [(path: String, body: String, says: String)] = [
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["echo","a\u0000b"]}"#, "cmd[1] contains a NUL byte"),
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["ec\u0000ho","ab"]}"#, "cmd[0] contains a NUL byte"),
                (
                    "/v1/sandboxes/hostile/exec", #"{"cmd":["env"],"env":{"A":"x\u0000y"}}"#,
                    "environment variable \"A\" contains a NUL byte"
                ),
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["env"],"env":{"A\u0000B":"x"}}"#, "contains a NUL byte"),
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["pwd"],"cwd":"/tmp\u0000/etc"}"#, "cwd contains a NUL byte"),
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["echo","a\u0000b"],"detach":true}"#, "cmd[1] contains a NUL byte"),
                // The decoder's path (a body FastJSON does not take) checks the same.
                ("/v1/sandboxes/hostile/exec", #"{"cmd":["echo","a\u0000b"],"timeout_sec":"x"}"#, "wrong type"),
                ("/v1/sandboxes", #"{"name":"other","env":{"A":"x\u0000y"}}"#, "environment variable \"A\" contains a NUL byte"),
                ("/v1/secrets", #"{"name":"S","value":"x\u0000y"}"#, "contains a NUL byte"),
            ]
            for c in refused {
                let r = try await d.call("POST", c.path, json: c.body)
                #expect(r.status == 400, "\(c.body): \(r.status) \(r.text)")
                let message = (try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body)))?.error.message ?? r.text
                #expect(message.contains(c.says), "\(c.body): \(message)")
            }
            let list = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(list.map(\.name) == ["hostile"])
            // A NUL in stdin is data, not a C string: it still goes through whole.
            let stdin = try await d.call("POST", "/v1/sandboxes/hostile/exec", json: #"{"cmd":["od","-An","-c"],"stdin":"a\u0000b"}"#)
            #expect(stdin.status == 200 && stdin.text.contains(#"\\0"#), "\(stdin.text)")

            // A piped session's first message: the socket gets the error and no command runs.
            let client = d.client
            let headers: HTTPHeaders = ["Authorization": "Bearer \(d.daemon.adminKey)"]
            let socket = try await Blocking.run { try client.webSocket(path: "/v1/sandboxes/hostile/exec/ws", headers: headers) }
            try socket.send(text: #"{"cmd":["sh","-c","touch /tmp/ran\u0000; echo no"]}"#)
            var texts: [String] = []
            for try await message in socket.messages {
                if case .text(let t) = message { texts.append(t) }
            }
            #expect(texts.count == 1 && texts[0].contains("\"type\":\"error\"") && texts[0].contains("NUL byte"), "\(texts)")
            let ran = try await d.exec("hostile", ["sh", "-c", "test -e /tmp/ran && echo ran || echo not"])
            #expect(ran.stdout == "not\n")

            // A full file system in the guest (a 1 MiB tmpfs): the upload is 507, not 429.
            let mount = try await d.exec(
                "hostile",
                ["sh", "-c", "sudo mkdir -p /mnt/small && sudo mount -t tmpfs -o size=1m,mode=1777 tmpfs /mnt/small && echo mounted"])
            #expect(mount.stdout == "mounted\n", "\(mount.stderr)")
            let upload = try await d.call(
                "PUT", "/v1/sandboxes/hostile/files?path=/mnt/small/big", json: String(repeating: "z", count: 2 << 20),
                headers: ["Content-Type": "application/octet-stream"])
            #expect(upload.status == 507, "\(upload.status) \(upload.text)")
            #expect(d.errorCode(upload) == "insufficient_storage", "\(upload.text)")
            // Room again: the same upload, smaller, succeeds.
            let small = try await d.call(
                "PUT", "/v1/sandboxes/hostile/files?path=/mnt/small/big", json: "fits",
                headers: ["Content-Type": "application/octet-stream"])
            #expect(small.status == 200, "\(small.text)")
            #expect(try await d.call("DELETE", "/v1/sandboxes/hostile").status == 200)
        }
    }
}
