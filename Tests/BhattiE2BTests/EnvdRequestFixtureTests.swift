import BhattiE2B
import Testing

/// Request bodies exactly as e2b 2.63.0 sends them.
///
/// "wire": captured from the SDK's HTTP/1.1 requests to a local capture server (Sandbox.create, then
/// commands.run/kill/list/send_stdin/close_stdin/connect, pty.create/send_stdin/resize, files.list/
/// exists/make_dir/rename/remove/watch_dir). "to_json": printed by the SDK's own generated classes
/// (e2b/envd/*/…_pb.py) with `Message.to_json()`, for calls the capture didn't make.
@Suite("envd requests as the SDK sends them")
struct EnvdRequestFixtureTests {
    typealias P = EnvdProcess
    typealias F = EnvdFilesystem

    @Test("commands.run(\"echo hi\") (wire)")
    func startCommand() throws {
        let r = try P.StartRequest(protoJSON: Array(#"{"process":{"cmd":"/bin/bash","args":["-l","-c","echo hi"]},"stdin":false}"#.utf8))
        #expect(r == P.StartRequest(process: P.ProcessConfig(cmd: "/bin/bash", args: ["-l", "-c", "echo hi"]), stdin: false))
        #expect(r.process?.cwd == nil)
        #expect(r.pty == nil && r.tag == nil)
        #expect(!r.stdinEnabled)
    }

    @Test("commands.run(\"cat\", background=True, stdin=True, cwd=\"/tmp\", user=\"root\") (wire)")
    func startWithStdin() throws {
        let r = try P.StartRequest(
            protoJSON: Array(#"{"process":{"cmd":"/bin/bash","args":["-l","-c","cat"],"cwd":"/tmp"},"stdin":true}"#.utf8))
        #expect(r == P.StartRequest(process: P.ProcessConfig(cmd: "/bin/bash", args: ["-l", "-c", "cat"], cwd: "/tmp"), stdin: true))
        #expect(r.stdinEnabled)
    }

    @Test("pty.create(PtySize(24, 80), cwd=\"/home/user\", envs={\"A\": \"1\"}) (wire): no stdin field, so stdin is on")
    func startPTY() throws {
        let json =
            #"{"process":{"cmd":"/bin/bash","args":["-i","-l"],"envs":{"A":"1","TERM":"xterm-256color","LANG":"C.UTF-8","LC_ALL":"C.UTF-8"},"cwd":"/home/user"},"pty":{"size":{"cols":80,"rows":24}}}"#
        let r = try P.StartRequest(protoJSON: Array(json.utf8))
        let envs = ["A": "1", "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"]
        #expect(
            r
                == P.StartRequest(
                    process: P.ProcessConfig(cmd: "/bin/bash", args: ["-i", "-l"], envs: envs, cwd: "/home/user"),
                    pty: P.PTY(size: .init(cols: 80, rows: 24))))
        #expect(r.stdin == nil && r.stdinEnabled)
    }

    @Test("a tagged start with escapes in its environment (to_json)")
    func startTagged() throws {
        let json = #"{"process":{"cmd":"/bin/bash","args":["-l","-c","x"],"envs":{"É":"ü\n\"\\"}},"tag":"job-1"}"#
        let r = try P.StartRequest(protoJSON: Array(json.utf8))
        #expect(r.process?.envs == ["É": "ü\n\"\\"])
        #expect(r.tag == "job-1")
        #expect(string(r.protoJSON()) == json)
    }

    @Test(
        "requests that name a process (wire and to_json)",
        arguments: [
            (#"{"process":{"pid":1234},"signal":"SIGNAL_SIGKILL"}"#, P.SendSignalRequest(process: .init(.pid(1234)), signal: .sigkill)),
            (#"{"process":{"tag":"t1"},"signal":"SIGNAL_SIGTERM"}"#, P.SendSignalRequest(process: .init(.tag("t1")), signal: .sigterm)),
        ])
    func sendSignal(json: String, expected: P.SendSignalRequest) throws {
        #expect(try P.SendSignalRequest(protoJSON: Array(json.utf8)) == expected)
        #expect(string(expected.protoJSON()) == json)
    }

    @Test("send_stdin, pty.send_stdin, resize, close_stdin, connect (wire)")
    func processCalls() throws {
        #expect(
            try P.SendInputRequest(protoJSON: Array(#"{"process":{"pid":1234},"input":{"stdin":"aGkK"}}"#.utf8))
                == P.SendInputRequest(process: .init(.pid(1234)), input: .init(.stdin(Array("hi\n".utf8)))))
        #expect(
            try P.SendInputRequest(protoJSON: Array(#"{"process":{"pid":1234},"input":{"pty":"bHMKBA=="}}"#.utf8))
                == P.SendInputRequest(process: .init(.pid(1234)), input: .init(.pty(Array("ls\n\u{04}".utf8)))))
        #expect(
            try P.UpdateRequest(protoJSON: Array(#"{"process":{"pid":1234},"pty":{"size":{"cols":120,"rows":40}}}"#.utf8))
                == P.UpdateRequest(process: .init(.pid(1234)), pty: P.PTY(size: .init(cols: 120, rows: 40))))
        #expect(
            try P.CloseStdinRequest(protoJSON: Array(#"{"process":{"pid":1234}}"#.utf8)) == P.ProcessRequest(process: .init(.pid(1234))))
        #expect(try P.ListRequest(protoJSON: Array("{}".utf8)) == EmptyMessage())
        // Connect's body arrives enveloped: 0x00, length 0x18, then the JSON.
        var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 1024)
        let env = try decoder.feed([0, 0, 0, 0, 0x18] + Array(#"{"process":{"pid":1234}}"#.utf8))
        #expect(try P.ConnectRequest(envelopePayload: env[0].payload) == P.ConnectRequest(process: .init(.pid(1234))))
    }

    @Test(
        "StreamInput's events (to_json)",
        arguments: [
            (#"{"start":{"process":{"pid":5}}}"#, P.StreamInputRequest(.start(.init(process: .init(.pid(5)))))),
            (#"{"data":{"input":{"stdin":"YWJj"}}}"#, P.StreamInputRequest(.data(.init(input: .init(.stdin(Array("abc".utf8))))))),
            (#"{"keepalive":{}}"#, P.StreamInputRequest(.keepalive)),
        ])
    func streamInput(json: String, expected: P.StreamInputRequest) throws {
        #expect(try P.StreamInputRequest(protoJSON: Array(json.utf8)) == expected)
        #expect(string(expected.protoJSON()) == json)
    }

    @Test("filesystem calls (wire, and to_json for WatchDir)")
    func filesystem() throws {
        #expect(
            try F.ListDirRequest(protoJSON: Array(#"{"path":"/home/user","depth":2}"#.utf8))
                == F.ListDirRequest(path: "/home/user", depth: 2))
        #expect(try F.StatRequest(protoJSON: Array(#"{"path":"/nope"}"#.utf8)) == F.PathRequest(path: "/nope"))
        #expect(try F.MakeDirRequest(protoJSON: Array(#"{"path":"/tmp/x"}"#.utf8)) == F.PathRequest(path: "/tmp/x"))
        #expect(try F.RemoveRequest(protoJSON: Array(#"{"path":"/tmp/b"}"#.utf8)) == F.PathRequest(path: "/tmp/b"))
        #expect(
            try F.MoveRequest(protoJSON: Array(#"{"source":"/tmp/a","destination":"/tmp/b"}"#.utf8))
                == F.MoveRequest(source: "/tmp/a", destination: "/tmp/b"))
        #expect(
            try F.CreateWatcherRequest(protoJSON: Array(#"{"path":"/tmp","recursive":true}"#.utf8))
                == F.WatchRequest(path: "/tmp", recursive: true))
        #expect(try F.GetWatcherEventsRequest(protoJSON: Array(#"{"watcherId":"w-1"}"#.utf8)) == F.WatcherID(watcherID: "w-1"))
        #expect(try F.RemoveWatcherRequest(protoJSON: Array(#"{"watcherId":"w-1"}"#.utf8)) == F.WatcherID(watcherID: "w-1"))
        let watch = #"{"path":"/tmp","recursive":true,"includeEntry":true,"allowNetworkMounts":true}"#
        let all = F.WatchRequest(path: "/tmp", recursive: true, includeEntry: true, allowNetworkMounts: true)
        #expect(try F.WatchDirRequest(protoJSON: Array(watch.utf8)) == all)
        #expect(string(all.protoJSON()) == watch)
    }

    @Test("the SDK's request encodings are reproduced byte for byte")
    func reEncode() {
        let table: [(any ProtoMessage, String)] = [
            (
                P.StartRequest(process: P.ProcessConfig(cmd: "/bin/bash", args: ["-l", "-c", "echo hi"]), stdin: false),
                #"{"process":{"cmd":"/bin/bash","args":["-l","-c","echo hi"]},"stdin":false}"#
            ),
            (
                P.UpdateRequest(process: .init(.pid(1234)), pty: P.PTY(size: .init(cols: 120, rows: 40))),
                #"{"process":{"pid":1234},"pty":{"size":{"cols":120,"rows":40}}}"#
            ),
            (
                P.SendInputRequest(process: .init(.pid(1234)), input: .init(.pty(Array("ls\n\u{04}".utf8)))),
                #"{"process":{"pid":1234},"input":{"pty":"bHMKBA=="}}"#
            ),
            (F.ListDirRequest(path: "/home/user", depth: 2), #"{"path":"/home/user","depth":2}"#),
            (F.WatchRequest(path: "/tmp", recursive: true), #"{"path":"/tmp","recursive":true}"#),
            (P.ConnectRequest(process: .init(.pid(0))), #"{"process":{"pid":0}}"#),
            (EmptyMessage(), "{}"),
        ]
        for (message, json) in table { #expect(string(message.protoJSON()) == json) }
    }
}
