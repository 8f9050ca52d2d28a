import BhattiE2B
import Testing

/// Control-plane bodies. Requests are as e2b 2.63.0 sent them to a capture server; responses are
/// our encodings, each parsed by the SDK's generated models (`Sandbox.from_dict`,
/// `SandboxDetail.from_dict`, `ListedSandbox.from_dict`, `Error.from_dict`) and driven through
/// `Sandbox.create`/`get_info`/`list`/`connect` against that server.
@Suite("E2B control plane")
struct ControlPlaneTests {
    @Test("Sandbox.create(template=\"base\", timeout=300, metadata={\"k\": \"v\"}, envs={\"E\": \"1\"}) (wire)")
    func create() throws {
        let body = #"{"templateID":"base","timeout":300,"metadata":{"k":"v"},"envVars":{"E":"1"}}"#
        let r = try ControlPlaneJSON.decode(NewSandbox.self, from: Array(body.utf8))
        #expect(r == NewSandbox(templateID: "base", timeout: 300, metadata: ["k": "v"], envVars: ["E": "1"]))
        #expect(r.unmodeledFields.isEmpty)
    }

    @Test("create: every modeled field, snake_case allow_internet_access, and what isn't modeled is named")
    func createFull() throws {
        let body = #"""
            {"templateID":"t","timeout":0,"autoPause":true,"autoPauseMemory":false,"autoResume":{"enabled":true},"secure":true,
             "allow_internet_access":false,"metadata":{},"envVars":{},"network":{"allowOut":["1.1.1.1"]},"mcp":null,"volumeMounts":[],"zzz":1}
            """#
        let r = try ControlPlaneJSON.decode(NewSandbox.self, from: Array(body.utf8))
        #expect(
            r
                == NewSandbox(
                    templateID: "t", timeout: 0, autoPause: true, autoPauseMemory: false, autoResume: .init(enabled: true), secure: true,
                    allowInternetAccess: false, metadata: [:], envVars: [:], unmodeledFields: ["network", "volumeMounts"]))
    }

    @Test(
        "create: bad bodies are error values",
        arguments: [
            "{}", #"{"templateID":1}"#, #"{"templateID":"t","metadata":{"k":1}}"#, #"{"templateID":"t","timeout":"300"}"#,
            #"{"templateID":"t","timeout":1.5}"#, "[]", "",
        ])
    func createRefused(body: String) {
        #expect(throws: WireDecodingError.self) { try ControlPlaneJSON.decode(NewSandbox.self, from: Array(body.utf8)) }
    }

    @Test("connect, timeout and pause bodies (wire)")
    func smallBodies() throws {
        #expect(try ControlPlaneJSON.decode(ConnectSandbox.self, from: Array(#"{"timeout":120}"#.utf8)) == ConnectSandbox(timeout: 120))
        #expect(try ControlPlaneJSON.decode(ConnectSandbox.self, from: Array("{}".utf8)) == ConnectSandbox())
        #expect(
            try ControlPlaneJSON.decode(SandboxTimeoutRequest.self, from: Array(#"{"timeout":60}"#.utf8))
                == SandboxTimeoutRequest(timeout: 60))
        #expect(throws: WireDecodingError.self) { try ControlPlaneJSON.decode(SandboxTimeoutRequest.self, from: Array("{}".utf8)) }
        #expect(try ControlPlaneJSON.decode(SandboxPauseRequest.self, from: Array("{}".utf8)) == SandboxPauseRequest())
        #expect(
            try ControlPlaneJSON.decode(SandboxPauseRequest.self, from: Array(#"{"memory":false,"requireHealthyGuest":true}"#.utf8))
                == SandboxPauseRequest(memory: false, requireHealthyGuest: true))
        #expect(
            try ControlPlaneJSON.decode(ResumedSandbox.self, from: Array(#"{"timeout":15,"autoPause":true}"#.utf8))
                == ResumedSandbox(timeout: 15, autoPause: true))
    }

    static let started = Timestamp(seconds: 1_767_323_045)
    static let ends = Timestamp(seconds: 1_767_323_345, nanos: 500_000_000)

    @Test("Sandbox (create/connect answer)")
    func sandbox() throws {
        let s = Sandbox(templateID: "base", sandboxID: "sbx-1", clientID: "bhatti", envdAccessToken: "tok-1")
        let json = #"{"clientID":"bhatti","envdAccessToken":"tok-1","envdVersion":"0.5.7","sandboxID":"sbx-1","templateID":"base"}"#
        #expect(string(ControlPlaneJSON.encode(s)) == json)
        #expect(try ControlPlaneJSON.decode(Sandbox.self, from: Array(json.utf8)) == s)
    }

    @Test("SandboxDetail (get_info answer)")
    func detail() throws {
        let d = SandboxDetail(
            templateID: "base", alias: "base", sandboxID: "sbx-1", clientID: "bhatti", startedAt: Self.started, endAt: Self.ends,
            cpuCount: 2, memoryMB: 512, diskSizeMB: 2048, metadata: ["k": "v"], state: .running,
            lifecycle: .init(autoResume: false, onTimeout: .kill))
        let json =
            #"{"alias":"base","clientID":"bhatti","cpuCount":2,"diskSizeMB":2048,"endAt":"2026-01-02T03:09:05.500Z","envdVersion":"0.5.7","lifecycle":{"autoResume":false,"onTimeout":"kill"},"memoryMB":512,"metadata":{"k":"v"},"sandboxID":"sbx-1","startedAt":"2026-01-02T03:04:05Z","state":"running","templateID":"base"}"#
        #expect(string(ControlPlaneJSON.encode(d)) == json)
        #expect(try ControlPlaneJSON.decode(SandboxDetail.self, from: Array(json.utf8)) == d)
    }

    @Test("ListedSandbox (list answer, a JSON array)")
    func listed() throws {
        let l = ListedSandbox(
            templateID: "base", sandboxID: "sbx-2", clientID: "bhatti", startedAt: Self.started, endAt: Self.ends, cpuCount: 1,
            memoryMB: 256, diskSizeMB: 1024, state: .paused)
        let json =
            #"[{"clientID":"bhatti","cpuCount":1,"diskSizeMB":1024,"endAt":"2026-01-02T03:09:05.500Z","envdVersion":"0.5.7","memoryMB":256,"sandboxID":"sbx-2","startedAt":"2026-01-02T03:04:05Z","state":"paused","templateID":"base"}]"#
        #expect(string(ControlPlaneJSON.encode([l])) == json)
        #expect(try ControlPlaneJSON.decode([ListedSandbox].self, from: Array(json.utf8)) == [l])
    }

    @Test("the SDK's required fields are never left out", arguments: ["templateID", "sandboxID", "clientID", "envdVersion"])
    func sandboxRequired(field: String) {
        let json = string(ControlPlaneJSON.encode(Sandbox(templateID: "", sandboxID: "", clientID: "")))
        #expect(json.contains("\"\(field)\":"))
    }

    @Test("states: only running and paused exist for the SDK")
    func states() throws {
        #expect(try ControlPlaneJSON.decode([SandboxState].self, from: Array(#"["running","paused"]"#.utf8)) == [.running, .paused])
        #expect(throws: WireDecodingError.self) { try ControlPlaneJSON.decode([SandboxState].self, from: Array(#"["stopped"]"#.utf8)) }
    }

    @Test("error bodies: code is the HTTP status, error_code in snake_case")
    func errors() throws {
        #expect(
            string(ControlPlaneJSON.encode(ControlPlaneError(code: 404, message: "sandbox \"gone\" not found")))
                == #"{"code":404,"message":"sandbox \"gone\" not found"}"#)
        let withReason = ControlPlaneError(
            code: 409, message: "guest agent unresponsive", errorCode: "sandbox_snapshot_guest_agent_unresponsive")
        #expect(
            string(ControlPlaneJSON.encode(withReason))
                == #"{"code":409,"error_code":"sandbox_snapshot_guest_agent_unresponsive","message":"guest agent unresponsive"}"#)
    }

    @Test("the reported envd version passes every gate the core RPCs need")
    func envdVersion() {
        func parts(_ v: String) -> [Int] { v.split(separator: ".").map { Int($0) ?? -1 } }
        let reported = parts(EnvdVersion.reported)
        #expect(reported.count == 3)
        // commands stdin (0.3.0), default user (0.4.0), close_stdin (0.5.2), octet-stream upload (0.5.7)
        for gate in ["0.1.0", "0.3.0", "0.4.0", "0.5.2", "0.5.7"] {
            #expect(reported.lexicographicallyPrecedes(parts(gate)) == false, "\(gate)")
        }
        // metadata xattrs (0.6.2) are not claimed
        #expect(reported.lexicographicallyPrecedes(parts("0.6.2")))
    }

    @Test("a timestamp as a Codable value is its RFC 3339 string")
    func codable() throws {
        let t = Timestamp(seconds: 1_767_323_045)
        #expect(string(ControlPlaneJSON.encode([t])) == #"["2026-01-02T03:04:05Z"]"#)
        #expect(try ControlPlaneJSON.decode([Timestamp].self, from: Array(#"["2026-01-02T03:04:05Z"]"#.utf8)) == [t])
        #expect(throws: WireDecodingError.self) { try ControlPlaneJSON.decode([Timestamp].self, from: Array("[0]".utf8)) }
    }

    @Test("a proto message through the Codable path gives the same values (member order aside)")
    func throughEncodable() throws {
        let m = EnvdProcess.StartResponse(.end(.init(exitCode: 3, exited: true, status: "exit status 3")))
        let viaEncoder = try ControlPlaneJSON.decode(EnvdProcess.StartResponse.self, from: ControlPlaneJSON.encode(m))
        #expect(viaEncoder == m)
        // Enums go by name through the Codable path too, not by raw number.
        #expect(string(ControlPlaneJSON.encode([EnvdProcess.Signal.sigkill, EnvdProcess.Signal(rawValue: 7)])) == #"["SIGNAL_SIGKILL",7]"#)
        #expect(
            try ControlPlaneJSON.decode([EnvdFilesystem.FileType].self, from: Array(#"["FILE_TYPE_SYMLINK",2,"NOPE"]"#.utf8)) == [
                .symlink, .directory, .unspecified,
            ])
    }
}

/// Lifecycle settings as bhatti takes them: what a timeout does, and what is refused.
@Suite("E2B lifecycle policy")
struct LifecyclePolicyTests {
    @Test(
        "autoPause and autoPauseMemory → what the timeout does",
        arguments: [
            (nil, nil, SandboxLifecycle.OnTimeout.kill), (false, nil, .kill), (false, false, .kill), (false, true, .kill),
            (true, nil, .pause), (true, true, .pause),
        ] as [(Bool?, Bool?, SandboxLifecycle.OnTimeout)])
    func onTimeout(autoPause: Bool?, memory: Bool?, expected: SandboxLifecycle.OnTimeout) throws {
        #expect(try LifecyclePolicy.onTimeout(autoPause: autoPause, autoPauseMemory: memory) == expected)
    }

    @Test("a filesystem-only pause is refused, at create and at pause")
    func filesystemOnly() {
        #expect(throws: LifecycleRefusal.filesystemOnlyPause) { try LifecyclePolicy.onTimeout(autoPause: true, autoPauseMemory: false) }
        #expect(throws: LifecycleRefusal.filesystemOnlyPause) { try LifecyclePolicy.pause(memory: false) }
        #expect(throws: LifecycleRefusal.filesystemOnlySnapshot) { try LifecyclePolicy.snapshot(memory: false) }
        #expect(throws: Never.self) { try LifecyclePolicy.snapshot(memory: nil) }
        #expect(throws: Never.self) { try LifecyclePolicy.pause(memory: nil) }
        #expect(throws: Never.self) { try LifecyclePolicy.pause(memory: true) }
        #expect("\(LifecycleRefusal.filesystemOnlyPause)".contains("not supported by bhatti"))
    }

    @Test("get_info's lifecycle: every sandbox resumes on use")
    func reported() {
        #expect(LifecyclePolicy.reported(.pause) == SandboxLifecycle(autoResume: true, onTimeout: .pause))
        #expect(LifecyclePolicy.reported(.kill) == SandboxLifecycle(autoResume: true, onTimeout: .kill))
    }
}

/// Snapshot and fork bodies as e2b 2.63.0 sends them, and our answers as its models read them.
@Suite("E2B snapshots and forks (wire)")
struct ControlPlaneSnapshotTests {
    @Test("create_snapshot() and create_snapshot(\"n\", mode=\"filesystem\"); fork() and fork(count=3, timeout=60)")
    func requests() throws {
        #expect(try ControlPlaneJSON.decode(SandboxSnapshotRequest.self, from: Array("{}".utf8)) == SandboxSnapshotRequest())
        #expect(
            try ControlPlaneJSON.decode(SandboxSnapshotRequest.self, from: Array(#"{"name":"n","memory":false}"#.utf8))
                == SandboxSnapshotRequest(name: "n", memory: false))
        #expect(try ControlPlaneJSON.decode(SandboxForkRequest.self, from: Array("{}".utf8)) == SandboxForkRequest())
        #expect(
            try ControlPlaneJSON.decode(SandboxForkRequest.self, from: Array(#"{"count":3,"timeout":60}"#.utf8))
                == SandboxForkRequest(timeout: 60, count: 3))
        #expect(throws: WireDecodingError.self) {
            try ControlPlaneJSON.decode(SandboxForkRequest.self, from: Array(#"{"count":"3"}"#.utf8))
        }
    }

    @Test("SnapshotInfo always carries names (the SDK requires it); a fork result carries one of sandbox or error")
    func answers() {
        #expect(
            String(decoding: ControlPlaneJSON.encode(SnapshotInfo(snapshotID: "s", names: [])), as: UTF8.self)
                == #"{"names":[],"snapshotID":"s"}"#)
        let failed = SandboxForkResult(error: ControlPlaneError(code: 429, message: "quota"))
        #expect(String(decoding: ControlPlaneJSON.encode(failed), as: UTF8.self) == #"{"error":{"code":429,"message":"quota"}}"#)
        let made = SandboxForkResult(sandbox: Sandbox(templateID: "base", sandboxID: "1", clientID: "bhatti"))
        #expect(String(decoding: ControlPlaneJSON.encode(made), as: UTF8.self).hasPrefix(#"{"sandbox":{"clientID":"bhatti""#))
    }
}
