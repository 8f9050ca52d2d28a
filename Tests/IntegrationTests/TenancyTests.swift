import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiHTTP
import BhattiStore
import BhattiSystem
import Foundation
import Synchronization
import Testing

/// Hostile tests with two users against a real daemon: scoping (404, never 403, for another user's
/// things), keys, limits, rate limits, secrets and the event log.
@Suite("Tenancy", .serialized)
struct TenancyTests {
    @Test(
        "two users: every route with the other's ids answers 404; secrets reach the guest and nothing else; age interop both ways; force delete"
    )
    func hostileTwoUsers() async throws {
        try await withDaemon { d in
            let seen = Mutex<[String]>([])  // every reply body, to prove a secret never comes back
            func call(_ key: String, _ method: String, _ path: String, _ json: String? = nil, _ extra: HTTPHeaders = []) async throws
                -> HTTPClientResponse
            {
                var headers: HTTPHeaders = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
                for (n, v) in extra { headers.set(n, v) }
                let r = try await d.raw(method, path, headers: headers, body: Array((json ?? "").utf8))
                seen.withLock { $0.append(r.text) }
                return r
            }
            let admin = d.daemon.adminKey
            let ann = try await createUser(d, "ann", maxSandboxes: 1, maxCPUs: 2, maxMemory: 1024)
            let bob = try await createUser(d, "bob")

            // Secrets: one set through the API, one encrypted by the age CLI to the daemon's recipient.
            let value = "s3cr3t-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            #expect(try await call(ann, "POST", "/v1/secrets", #"{"name":"TOKEN","value":"\#(value)"}"#).status == 201)
            let keyFile = d.dataDirectory + "/age.key"
            let recipient = String(
                decoding: try await Blocking.run { try Self.runBytes("/usr/bin/age-keygen", ["-y", keyFile]) }, as: UTF8.self
            )
            .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(recipient.hasPrefix("age1"))
            let other = "from-the-age-cli-" + String(UInt32.random(in: 0...UInt32.max))
            let sealedByCLI = try await Blocking.run { [recipient, other] in
                try Self.runBytes("/usr/bin/age", ["-r", recipient], stdin: Array(other.utf8))
            }
            let annID = try #require(try await d.daemon.users.list().first { $0.name == "ann" }?.id)
            let store = try SandboxStore(path: d.dataDirectory + "/state.db")
            try await store.setSecret(userID: annID, name: "OTHER", ciphertext: sealedByCLI)
            // And the age CLI reads what the daemon stored.
            let stored = try #require(try await store.secret(userID: annID, name: "TOKEN"))
            #expect(String(decoding: stored.ciphertext.prefix(21), as: UTF8.self) == "age-encryption.org/v1")
            #expect(!String(decoding: stored.ciphertext, as: UTF8.self).contains(value))
            let ciphertext = stored.ciphertext
            let opened = try await Blocking.run { try Self.runBytes("/usr/bin/age", ["-d", "-i", keyFile], stdin: ciphertext) }
            #expect(String(decoding: opened, as: UTF8.self) == value)

            // Ann's sandbox, with both secrets as environment.
            let created = try await call(
                ann, "POST", "/v1/sandboxes", #"{"name":"dev","cpus":1,"memory_mb":512,"secrets":["TOKEN","OTHER"],"env":{"PLAIN":"yes"}}"#)
            #expect(created.status == 201, "\(created.text)")
            let dev = try JSONDecoder().decode(SandboxDTO.self, from: Data(created.body))
            let env = try await call(
                ann, "POST", "/v1/sandboxes/dev/exec", #"{"cmd":["sh","-c","printf '%s|%s|%s' \"$TOKEN\" \"$OTHER\" \"$PLAIN\""]}"#)
            #expect(try JSONDecoder().decode(ExecResultDTO.self, from: Data(env.body)).stdout == "\(value)|\(other)|yes")
            // Not on the guest's disk (the writable places; /proc and /sys are not disk).
            let grep = try await call(
                ann, "POST", "/v1/sandboxes/dev/exec",
                #"{"cmd":["sh","-c","sudo grep -rlF \"$TOKEN\" /etc /root /home /tmp /var /run /workspace /opt /usr/local 2>/dev/null; echo done"]}"#
            )
            #expect(try JSONDecoder().decode(ExecResultDTO.self, from: Data(grep.body)).stdout == "done\n")

            // Limits: count (429), cpus and memory per sandbox (400), before any VM starts.
            let over = try await call(ann, "POST", "/v1/sandboxes", #"{"name":"second","memory_mb":512}"#)
            #expect(over.status == 429 && over.text.contains("sandbox limit reached (1/1)"), "\(over.text)")
            let cpus = try await call(ann, "POST", "/v1/sandboxes", #"{"name":"big","cpus":3}"#)
            #expect(cpus.status == 400 && cpus.text.contains("limit of 2"), "\(cpus.text)")
            let memory = try await call(bob, "POST", "/v1/sandboxes", #"{"name":"big","memory_mb":8192}"#)
            #expect(memory.status == 400 && memory.text.contains("limit of 4096"), "\(memory.text)")
            let unknownSecret = try await call(bob, "POST", "/v1/sandboxes", #"{"name":"s","secrets":["TOKEN"]}"#)
            #expect(unknownSecret.status == 400, "bob has no secret TOKEN: \(unknownSecret.text)")

            #expect(try await call(ann, "POST", "/v1/sandboxes/dev/snapshots", #"{"name":"snap"}"#).status == 201)

            // Bob, with Ann's name and id on every route: 404, and Ann's sandbox is untouched.
            for target in ["dev", dev.id] {
                let base = "/v1/sandboxes/\(target)"
                let attempts: [(String, String, String?, HTTPHeaders)] = [
                    ("GET", base, nil, []), ("PATCH", base, #"{"keep_hot":true}"#, []), ("DELETE", base, nil, []),
                    ("POST", base + "/pause", nil, []), ("POST", base + "/stop", nil, []), ("POST", base + "/start", nil, []),
                    ("POST", base + "/exec", #"{"cmd":["true"]}"#, []),
                    ("POST", base + "/exec", #"{"cmd":["true"]}"#, ["Accept": "application/x-ndjson"]),
                    ("GET", base + "/files?path=/etc/hostname", nil, []), ("HEAD", base + "/files?path=/etc/hostname", nil, []),
                    ("PUT", base + "/files?path=/tmp/x", "x", []), ("GET", base + "/files?path=/&ls=true", nil, []),
                    ("GET", base + "/sessions", nil, []), ("GET", base + "/proxy/8000/", nil, []),
                    ("POST", base + "/proxy/8000/x", "{}", []),
                    ("POST", base + "/publish", #"{"port":8000}"#, []), ("GET", base + "/publish", nil, []),
                    ("DELETE", base + "/publish/8000", nil, []),
                    ("POST", base + "/snapshots", #"{"name":"stolen"}"#, []),
                    ("POST", "/v1/sandboxes", #"{"name":"fork","from":"\#(target)"}"#, []),
                ]
                for (method, path, body, headers) in attempts {
                    let r = try await call(bob, method, path, body, headers)
                    #expect(r.status == 404, "bob \(method) \(path): \(r.status) \(r.text)")
                }
                for path in [base + "/shell", base + "/exec/ws"] {
                    let client = d.client
                    let headers: HTTPHeaders = ["Authorization": "Bearer \(bob)"]
                    do {
                        let socket = try await Blocking.run { try client.webSocket(path: path, headers: headers) }
                        socket.close()
                        Issue.record("bob opened a WebSocket on \(path)")
                    } catch let error as WebSocketError {
                        guard case .rejected(let status, _, _) = error else {
                            Issue.record("\(path): \(error)")
                            continue
                        }
                        #expect(status == 404, "bob WebSocket \(path): \(status)")
                    }
                }
            }
            for (method, path) in [
                ("POST", "/v1/snapshots/snap/restore"), ("DELETE", "/v1/snapshots/snap"), ("DELETE", "/v1/secrets/TOKEN"),
            ] {
                let r = try await call(bob, method, path, method == "POST" ? "{}" : nil)
                #expect(r.status == 404, "bob \(method) \(path): \(r.status) \(r.text)")
            }
            for path in ["/v1/sandboxes", "/v1/snapshots", "/v1/secrets"] {
                #expect(try await call(bob, "GET", path).text == "[]", "bob sees nothing of ann's in \(path)")
            }
            #expect(try await call(ann, "GET", "/v1/sandboxes/dev").status == 200)
            #expect(try await call(ann, "GET", "/v1/snapshots").text.contains("\"snap\""))
            #expect(try await call(ann, "GET", "/v1/sandboxes/dev").text.contains("\"keep_hot\":false"))

            // Admin-only routes refuse users with 403.
            for (method, path, body) in [
                ("GET", "/v1/users", nil), ("POST", "/v1/users", #"{"name":"eve"}"#), ("DELETE", "/v1/users/ann", nil),
                ("POST", "/v1/users/ann/rotate-key", nil), ("GET", "/v1/events", nil),
            ] {
                let r = try await call(bob, method, path, body)
                #expect(r.status == 403, "bob \(method) \(path): \(r.status)")
            }

            // Keys: missing, malformed, in the query string, rotated.
            let missing = try await d.raw("GET", "/v1/sandboxes")
            #expect(missing.status == 401)
            for header in ["Bearer nope", "Bearer \(bob)x", "Basic \(bob)", "bearer \(bob)", "Bearer"] {
                #expect(try await d.raw("GET", "/v1/sandboxes", headers: ["Authorization": header]).status == 401, "\(header)")
            }
            #expect(try await d.raw("GET", "/v1/sandboxes?token=\(bob)").status == 401)
            #expect(try await call(bob, "GET", "/v1/sandboxes?api_key=\(bob)").status == 401)
            let rotated = try await call(admin, "POST", "/v1/users/bob/rotate-key")
            let newBob = try JSONDecoder().decode(UserKeyDTO.self, from: Data(rotated.body)).apiKey
            #expect(try await call(bob, "GET", "/v1/sandboxes").status == 401, "the old key stops at once")
            #expect(try await call(newBob, "GET", "/v1/sandboxes").status == 200)

            // The event log: admin only, filtered, and never a key.
            let events = try await call(admin, "GET", "/v1/events?limit=1000")
            let list = try JSONDecoder().decode([EventDTO].self, from: Data(events.body))
            let types = Set(list.map(\.type))
            for kind in ["user.created", "user.key_rotated", "auth.failed", "secret.set", "sandbox.created", "snapshot.created"] {
                #expect(types.contains(kind), "event \(kind) missing from \(types)")
            }
            #expect(list.first { $0.type == "sandbox.created" }?.user == "ann")
            let auth = try JSONDecoder().decode(
                [EventDTO].self, from: Data(try await call(admin, "GET", "/v1/events?type=auth&since=1h").body))
            #expect(!auth.isEmpty && auth.allSatisfy { $0.type == "auth.failed" })
            let annsOnly = try JSONDecoder().decode([EventDTO].self, from: Data(try await call(admin, "GET", "/v1/events?user=ann").body))
            #expect(!annsOnly.isEmpty && annsOnly.allSatisfy { $0.user == "ann" })

            // Deleting a user who owns things: refused, then forced (the VM goes too).
            let refused = try await call(admin, "DELETE", "/v1/users/ann")
            #expect(refused.status == 409, "\(refused.text)")
            #expect(try await call(admin, "DELETE", "/v1/users/ann?force=true").status == 200)
            #expect(try await call(ann, "GET", "/v1/sandboxes").status == 401)
            #expect(qemuProcesses(mentioning: dev.id).isEmpty)
            #expect(try await call(admin, "DELETE", "/v1/users/admin").status == 400)

            // No reply and no log line ever carried a secret value or a key.
            let replies = seen.withLock { $0 }
            for secret in [value, other] {
                #expect(
                    !replies.contains { $0.contains(secret) && !$0.contains("\"stdout\"") },
                    "a reply other than the exec output carried a secret")
                #expect(!d.logEvents.all.contains { $0.contains(secret) }, "a log line carried a secret")
            }
            #expect(!d.logEvents.all.contains { $0.contains(newBob) || $0.contains(admin) }, "a log line carried an API key")
        }
    }

    @Test("rate limits: a user's bucket runs dry (429 with Retry-After) and refills; the admin is not limited")
    func rateLimits() async throws {
        // The buckets refill by a clock only this test moves: however slow the machine, no token comes
        // back between the requests below until the test says a second has passed.
        let clock = ManualClock()
        try await withDaemon(
            clock: clock,
            configure: { config in
                config.rateLimits.read = try! RateLimit(perMinute: 60, burst: 3)
                config.rateLimits.create = try! RateLimit(perMinute: 60, burst: 1)
            }
        ) { d in
            let bob = try await createUser(d, "bob")
            let headers: HTTPHeaders = ["Authorization": "Bearer \(bob)", "Content-Type": "application/json"]
            for _ in 0..<3 { #expect(try await d.raw("GET", "/v1/sandboxes", headers: headers).status == 200) }
            let limited = try await d.raw("GET", "/v1/sandboxes", headers: headers)
            #expect(limited.status == 429)
            #expect(limited.headers["Retry-After"] == "1")
            #expect(d.errorCode(limited) == "rate_limited")
            // Creates have their own bucket: one token, spent by a refused create (it was still a create).
            #expect(try await d.raw("POST", "/v1/sandboxes", headers: headers, body: Array(#"{"cpus":99}"#.utf8)).status == 400)
            #expect(try await d.raw("POST", "/v1/sandboxes", headers: headers, body: Array(#"{"cpus":99}"#.utf8)).status == 429)
            clock.advance(by: .milliseconds(999))
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: headers).status == 429, "no token before a whole second")
            clock.advance(by: .milliseconds(1))
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: headers).status == 200, "a token came back after a second")
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: headers).status == 429, "only one token came back")
            for _ in 0..<20 { #expect(try await d.call("GET", "/v1/sandboxes").status == 200) }
        }
    }

    @Test("the admin user exists from the first start, owns sandboxes from before users, and keeps its key across restarts")
    func adminUser() async throws {
        let d = try await TestDaemon.start()
        let users = try JSONDecoder().decode([UserDTO].self, from: Data(try await d.call("GET", "/v1/users").body))
        #expect(users.map(\.name) == ["admin"])
        #expect(users.first?.isAdmin == true && users.first?.maxSandboxes == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: d.dataDirectory + "/age.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = d.daemon.adminKey
        await d.stop(keepData: true)
        let again = try await TestDaemon.start(dataDirectory: d.dataDirectory)
        #expect(again.daemon.adminKey == key)
        #expect(try await again.call("GET", "/v1/users").status == 200)
        // Rotating the admin's key rewrites admin.key: the new key is the one a restart reads.
        let rotated = try JSONDecoder().decode(UserKeyDTO.self, from: Data(try await again.call("POST", "/v1/users/admin/rotate-key").body))
        let file = try String(contentsOfFile: d.dataDirectory + "/admin.key", encoding: .utf8)
        #expect(file.trimmingCharacters(in: .whitespacesAndNewlines) == rotated.apiKey)
        await again.stop()
    }

    // MARK: helpers

    private func createUser(_ d: TestDaemon, _ name: String, maxSandboxes: Int = 5, maxCPUs: Int = 4, maxMemory: Int = 4096) async throws
        -> String
    {
        let body = #"{"name":"\#(name)","max_sandboxes":\#(maxSandboxes),"max_cpus":\#(maxCPUs),"max_memory_mb":\#(maxMemory)}"#
        let r = try await d.call("POST", "/v1/users", json: body)
        guard r.status == 201 else { throw Failure("create user \(name): \(r.status) \(r.text)") }
        let key = try JSONDecoder().decode(UserKeyDTO.self, from: Data(r.body)).apiKey
        #expect(key.hasPrefix("bht_") && key.count == 68)
        return key
    }

    /// Runs a host tool, feeding stdin; returns stdout.
    private static func runBytes(_ tool: String, _ args: [String], stdin: [UInt8] = []) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let input = Pipe()
        let output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data(stdin))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure("\(tool) \(args) exited \(p.terminationStatus)") }
        return Array(data)
    }
}
