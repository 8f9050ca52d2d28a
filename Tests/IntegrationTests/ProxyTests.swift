import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Synchronization
import Testing

/// The authenticated reverse proxy against a real HTTP and WebSocket server in a real VM.
@Suite("Proxy", .serialized, .timeLimit(.minutes(10)))
struct ProxyTests {
    /// A guest server on Python's standard library: echoes the request as JSON, streams server-sent
    /// events, and answers WebSocket upgrades with an echo.
    static let server = #"""
        import base64, hashlib, http.server, json, os, time
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                if self.path.startswith("/sse"):
                    self.send_response(200); self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                    for i in range(3):
                        data = ("data: %d\n\n" % i).encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush(); time.sleep(0.4)
                    self.wfile.write(b"0\r\n\r\n"); self.close_connection = True; return
                if self.path.startswith("/gated"):
                    # The first event, then the rest only once the client has had it (it makes /tmp/sse-go).
                    self.send_response(200); self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                    def event(text):
                        data = ("data: %s\n\n" % text).encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush()
                    event("0")
                    for _ in range(6000):
                        if os.path.exists("/tmp/sse-go"): break
                        time.sleep(0.05)
                    event("go" if os.path.exists("/tmp/sse-go") else "gave-up")
                    self.wfile.write(b"0\r\n\r\n"); self.close_connection = True; return
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
                    self.send_response(101); self.send_header("Upgrade", "websocket"); self.send_header("Connection", "Upgrade")
                    self.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
                    self.end_headers(); self.wfile.flush()
                    self.close_connection = True   # after the WebSocket, the server closes TCP first (RFC 6455 7.1.1)
                    while True:
                        h = self.rfile.read(2)
                        if len(h) < 2: return
                        op, n = h[0] & 15, h[1] & 127
                        if n == 126: n = int.from_bytes(self.rfile.read(2), "big")
                        mask = self.rfile.read(4)
                        data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
                        if op == 8: self.wfile.write(b"\x88\x02\x03\xe8"); self.wfile.flush(); return
                        if op in (1, 2):
                            reply = b"echo:" + data
                            self.wfile.write(bytes([0x80 | op, len(reply)]) + reply); self.wfile.flush()
                self.reply()
            def do_POST(self): self.reply()
            def reply(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                out = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                                  "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
            def log_message(self, *a): pass
        http.server.ThreadingHTTPServer(("127.0.0.1", 8000), H).serve_forever()
        """#

    /// Creates `name` running the server on port 8000 and waits until the proxy reaches it.
    static func startServer(_ d: TestDaemon, _ name: String) async throws {
        _ = try await d.create(name)
        let put = try await d.call("PUT", "/v1/sandboxes/\(name)/files?path=/workspace/srv.py", json: server)
        #expect(put.status == 200, "\(put.text)")
        let started = try await d.call(
            "POST", "/v1/sandboxes/\(name)/exec", json: #"{"cmd":["python3","/workspace/srv.py"],"detach":true}"#)
        #expect(started.status == 200, "\(started.text)")
        // Python starts in well under a second alone, but in tens of seconds beside other VMs under TCG.
        let ready = try await eventually { try await d.call("GET", "/v1/sandboxes/\(name)/proxy/8000/ready").status == 200 }
        if !ready { throw Failure("the guest's server never answered through the proxy") }
    }

    @Test(
        "HTTP through the proxy: path and query kept, the key never forwarded, X-Forwarded-* set, POST bodies, curl as the client; 502 on a dead port"
    )
    func http() async throws {
        try await withDaemon { d in
            try await Self.startServer(d, "px")
            let socket = d.daemon.socketPath
            let key = d.daemon.adminKey
            let out = try await Blocking.run {
                try curl([
                    "-s", "--unix-socket", socket, "-H", "Authorization: Bearer \(key)", "-H", "X-Custom: kept",
                    "http://localhost/v1/sandboxes/px/proxy/8000/a/b%20c?x=1&y=2",
                ])
            }
            let echo = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
            #expect(echo["path"] as? String == "/a/b%20c?x=1&y=2")
            let headers = try #require(echo["headers"] as? [String: String])
            #expect(headers["authorization"] == nil, "the bhatti key must not reach the guest")
            #expect(headers["host"] == "localhost:8000")
            #expect(headers["x-custom"] == "kept")
            #expect(
                headers["x-forwarded-proto"] == "http" && headers["x-forwarded-for"] == "unix" && headers["x-forwarded-host"] == "localhost"
            )

            let post = try await d.call("POST", "/v1/sandboxes/px/proxy/8000/submit", json: #"{"hello":"guest"}"#)
            #expect(post.status == 200)
            #expect(post.text.contains(#""body": "{\"hello\":\"guest\"}""#) && post.text.contains(#""method": "POST""#), "\(post.text)")
            #expect(try await d.call("GET", "/v1/sandboxes/px/proxy/8000").text.contains(#""path": "/""#))

            let dead = try await d.call("GET", "/v1/sandboxes/px/proxy/9/")
            #expect(dead.status == 502)
            #expect(d.errorCode(dead) == "bad_gateway" && dead.text.contains("port 9"), "\(dead.text)")
            #expect(try await d.call("GET", "/v1/sandboxes/px/proxy/0/").status == 400)
            #expect(try await d.call("GET", "/v1/sandboxes/nope/proxy/8000/").status == 404)
        }
    }

    @Test("server-sent events stream through as the guest writes them; the proxy wakes a cold sandbox")
    func streamingAndWake() async throws {
        try await withDaemon { d in
            try await Self.startServer(d, "sse")
            // The guest writes its second event only once the client has had the first: a proxy that
            // buffered the stream would hold the first back, and the guest would give up waiting.
            let socket = d.daemon.socketPath
            let key = d.daemon.adminKey
            let client = d.client
            let headers = d.authHeaders
            let body = Array(#"{"cmd":["touch","/tmp/sse-go"]}"#.utf8)
            let streamed = try await Blocking.run {
                try curlStream(
                    [
                        "-sN", "--unix-socket", socket, "-H", "Authorization: Bearer \(key)",
                        "http://localhost/v1/sandboxes/sse/proxy/8000/gated",
                    ], onFirst: "data: 0"
                ) {
                    _ = try? client.send(method: "POST", path: "/v1/sandboxes/sse/exec", headers: headers, body: body)
                }
            }
            #expect(streamed.contains("data: 0") && streamed.contains("data: go"), "the first event was held back: \(streamed)")

            #expect(try await d.call("POST", "/v1/sandboxes/sse/stop").text.contains(#""state":"cold""#))
            let woken = try await d.call("GET", "/v1/sandboxes/sse/proxy/8000/after-cold")
            #expect(woken.status == 200 && woken.text.contains("/after-cold"), "\(woken.text)")
            #expect(try await d.get("sse").state == "hot")
        }
    }

    @Test("WebSocket through the proxy: our client and Python's websockets; an open one pins the sandbox hot")
    func webSocket() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            try await Self.startServer(d, "ws")
            let client = d.client
            let headers: HTTPHeaders = ["Authorization": "Bearer \(d.daemon.adminKey)"]
            let socket = try await Blocking.run { try client.webSocket(path: "/v1/sandboxes/ws/proxy/8000/chat", headers: headers) }
            try socket.send(text: "hi")
            var iterator = socket.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("echo:hi"))
            // Ten driven minutes past warm-after: the open proxied WebSocket keeps the sandbox hot.
            try await d.driveIdle(clock, "ws", through: .seconds(600))
            try socket.send(text: "again")
            #expect(try await iterator.next() == .text("echo:again"))
            socket.close()
            // Released once the WebSocket closed: it cools (a held sandbox never would, however long
            // the clock is driven; each idle check that finds the guest's CPU busy adds warm-after).
            try await d.driveIdle(clock, "ws", to: "warm", limit: .seconds(1800))

            // Python's websockets as the client, over TCP (it wakes the sandbox too).
            let port = try #require(d.daemon.tcpPort)
            let python = try await pythonWithWebsockets()
            let script = """
                import asyncio, sys
                from websockets.asyncio.client import connect
                async def main():
                    async with connect("ws://127.0.0.1:\(port)/v1/sandboxes/ws/proxy/8000/py",
                                       additional_headers={"Authorization": "Bearer \(d.daemon.adminKey)"}, open_timeout=120) as ws:
                        await ws.send("from python")
                        print(await ws.recv())
                asyncio.run(main())
                """
            let out = try await Blocking.run { try runTool(python, ["-c", script]) }
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "echo:from python")
        }
    }
}

extension ProxyTests {
    @Test(
        "preview URLs: publish (idempotent), the public proxy without a key, redirect to the slash, 404 for unknown aliases, one wake for ten requests to a cold sandbox, 502 for a dead port, unpublish and destroy remove the URL"
    )
    func previews() async throws {
        // The proxy's buckets refill by a clock only this test moves: none refills while it runs.
        let clock = ManualClock()
        try await withDaemon(
            clock: clock,
            configure: { config in
                config.proxyListen = "127.0.0.1:0"
                config.proxyZone = "preview.test"
                config.proxyRateLimits.perAlias = try! RateLimit(perMinute: 60, burst: 20)
            }
        ) { d in
            try await Self.startServer(d, "web")
            let port = try #require(d.daemon.proxyPort)
            let published = try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":8000}"#)
            #expect(published.status == 201, "\(published.text)")
            let rule = try JSONDecoder().decode(PublishDTO.self, from: Data(published.body))
            #expect(rule.alias == "web-8000" && rule.url == "http://web-8000.preview.test:\(port)/")
            let again = try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":8000}"#)
            #expect(again.status == 200)
            #expect(try JSONDecoder().decode(PublishDTO.self, from: Data(again.body)) == rule)
            #expect(try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":8000,"alias":"other"}"#).status == 409)
            #expect(try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":9,"alias":"Bad_Alias"}"#).status == 400)
            #expect(try await d.get("web").urls == [rule.url!])

            let echo = try await Blocking.run { try curl(["-s", "http://127.0.0.1:\(port)/web-8000/hello?x=1"]) }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(echo.utf8)) as? [String: Any], "\(echo)")
            #expect(object["path"] as? String == "/hello?x=1")
            let headers = try #require(object["headers"] as? [String: String])
            #expect(headers["x-forwarded-prefix"] == "/web-8000" && headers["x-forwarded-for"] == "127.0.0.1")
            // Host-based with the zone; path-based still works for any other host.
            let byHost = try await Blocking.run {
                try curl(["-s", "-H", "Host: web-8000.preview.test:\(port)", "http://127.0.0.1:\(port)/x/y?z=1"])
            }
            #expect(byHost.contains(#""path": "/x/y?z=1""#), "\(byHost)")
            let unknownHost = try await Blocking.run {
                try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: nope.preview.test", "http://127.0.0.1:\(port)/"])
            }
            #expect(unknownHost == "404")
            let redirect = try await Blocking.run {
                try curl(["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://127.0.0.1:\(port)/web-8000?q=1"])
            }
            #expect(redirect == "308 http://127.0.0.1:\(port)/web-8000/?q=1")
            for path in ["/nope-8000/", "/", "/web-8000x/"] {
                let code = try await Blocking.run {
                    try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"])
                }
                #expect(code == "404", "\(path)")
            }

            // Cold, then ten requests at once: one restore, ten answers.
            #expect(try await d.call("POST", "/v1/sandboxes/web/stop").text.contains(#""state":"cold""#))
            let restoresBefore = d.logEvents.count("sandbox.restored")
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<10 {
                    group.addTask {
                        try await Blocking.run {
                            try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/web-8000/r\(i)"])
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(codes == Array(repeating: "200", count: 10), "\(codes)")
            #expect(d.logEvents.count("sandbox.restored") == restoresBefore + 1)

            #expect(try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":9,"alias":"dead"}"#).status == 201)
            #expect(try await Blocking.run { try curl(["-s", "-w", " %{http_code}", "http://127.0.0.1:\(port)/dead/"]) }.hasSuffix(" 502"))
            #expect(try await d.call("DELETE", "/v1/sandboxes/web/publish/9").status == 200)
            #expect(try await d.call("DELETE", "/v1/sandboxes/web/publish/9").status == 404)
            #expect(
                try await Blocking.run { try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/dead/"]) }
                    == "404")

            // The alias's bucket (20 here) runs dry: 429 with Retry-After; unknown aliases are still 404.
            var limited: String?
            for _ in 0..<21 where limited == nil {
                let headers = try await Blocking.run {
                    try curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/web-8000/"])
                }
                if headers.hasPrefix("HTTP/1.1 429") { limited = headers }
            }
            let retry = try #require(limited, "21 requests never ran the alias's bucket (burst 20) dry")
            #expect(retry.lowercased().contains("retry-after: 1"), "\(retry)")
            // A second later a token is back.
            clock.advance(by: .seconds(1))
            #expect(
                try await Blocking.run { try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/web-8000/"]) }
                    == "200")
            #expect(
                try await Blocking.run { try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/nope/"]) }
                    == "404")

            let list = try JSONDecoder().decode([PublishDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes/web/publish").body))
            #expect(list.map(\.alias) == ["web-8000"])
            #expect(try await d.call("DELETE", "/v1/sandboxes/web").status == 200)
            #expect(
                try await Blocking.run { try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/web-8000/"]) }
                    == "404")
        }
    }
}

extension ProxyTests {
    @Test(
        "preview URLs over HTTPS: TLS with the configured certificate, X-Forwarded-Proto https, streaming through; a key that does not match is refused at start"
    )
    func tls() async throws {
        let dir = NSTemporaryDirectory() + "bhatti-tls-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["a", "b"] {
            _ = try await Blocking.run {
                try runTool(
                    "/usr/bin/openssl",
                    [
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                        "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt",
                    ])
            }
        }
        var mismatched = DaemonConfiguration.isolated(dataDirectory: dir + "/data", imageDirectory: TestDaemon.imageDirectory)
        mismatched.proxyListen = "127.0.0.1:0"
        mismatched.proxyTLSCertificate = dir + "/a.crt"
        mismatched.proxyTLSKey = dir + "/b.key"
        let refused = await #expect(throws: BhattiError.self) { _ = try await Daemon.start(mismatched, log: Logger(sink: { _ in })) }
        #expect(refused?.message.contains("private key") == true, "\(String(describing: refused))")

        try await withDaemon(configure: { config in
            config.proxyListen = "127.0.0.1:0"
            config.proxyTLSCertificate = dir + "/a.crt"
            config.proxyTLSKey = dir + "/a.key"
        }) { d in
            try await Self.startServer(d, "web")
            let port = try #require(d.daemon.proxyPort)
            let rule = try JSONDecoder().decode(
                PublishDTO.self, from: Data(try await d.call("POST", "/v1/sandboxes/web/publish", json: #"{"port":8000}"#).body))
            #expect(rule.url == "https://127.0.0.1:\(port)/web-8000/")
            let echo = try await Blocking.run { try curl(["-sk", "https://127.0.0.1:\(port)/web-8000/secure?x=1"]) }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(echo.utf8)) as? [String: Any], "\(echo)")
            #expect(object["path"] as? String == "/secure?x=1")
            let headers = try #require(object["headers"] as? [String: String])
            #expect(headers["x-forwarded-proto"] == "https" && headers["x-forwarded-for"] == "127.0.0.1")
            let events = try await Blocking.run { try curl(["-skN", "https://127.0.0.1:\(port)/web-8000/sse"]) }
            #expect(events.contains("data: 0") && events.contains("data: 2"))
            let plain = try await Blocking.run { try? curl(["-s", "-m", "3", "http://127.0.0.1:\(port)/web-8000/"]) }
            #expect(plain == nil || !(plain ?? "").contains("path"), "plain HTTP is not served on the TLS port")
        }
    }
}

/// curl's stdout.
func curl(_ args: [String]) throws -> String {
    try runTool("/usr/bin/curl", args)
}

/// Seconds since start at which each of `marks` first appeared in curl's output.
/// Runs curl, calling `first` once its output contains `mark` (while it still runs); all it printed.
func curlStream(_ args: [String], onFirst mark: String, _ first: () -> Void) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    var seen = ""
    var called = false
    while true {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        seen += String(decoding: chunk, as: UTF8.self)
        if !called, seen.contains(mark) {
            called = true
            first()
        }
    }
    p.waitUntilExit()
    return seen
}

/// Runs a tool; its stdout, or a failure with its status.
func runTool(_ path: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw Failure("\(path) exited \(p.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

/// Python with PyPI's `websockets` (scripts/ws-venv.sh, shared with the HTTP interop tests).
func pythonWithWebsockets() async throws -> String {
    try await Blocking.run {
        try runTool("/bin/sh", [FileManager.default.currentDirectoryPath + "/scripts/ws-venv.sh"]).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
