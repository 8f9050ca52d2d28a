import BhattiE2B
import Testing

/// Responses as we encode them, pinned to the bytes the SDK's own classes write for the same message
/// (`process_pb`/`filesystem_pb` `to_json()`, which also round-trip each string through `from_json(…,
/// ignore_unknown_fields=True)` unchanged); the stream events and ListDir were also fed to a live
/// `commands.run`/`files.list` over HTTP/1.1 and parsed into the results they describe.
@Suite("envd responses the SDK parses")
struct EnvdResponseFixtureTests {
    typealias P = EnvdProcess
    typealias F = EnvdFilesystem

    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let message: any ProtoMessage
        let json: String
        var description: String { name }
    }

    static let modified = Timestamp(seconds: 1_700_000_000, nanos: 123_000_000)

    static let cases: [Case] = [
        Case(name: "start", message: P.StartResponse(.start(.init(pid: 1234))), json: #"{"event":{"start":{"pid":1234}}}"#),
        Case(name: "start pid 0", message: P.StartResponse(.start(.init(pid: 0))), json: #"{"event":{"start":{}}}"#),
        Case(
            name: "stdout", message: P.StartResponse(.data(.init(.stdout(Array("hi\n".utf8))))),
            json: #"{"event":{"data":{"stdout":"aGkK"}}}"#),
        Case(
            name: "stderr, binary", message: P.StartResponse(.data(.init(.stderr([0x00, 0xFF, 0xFE])))),
            json: #"{"event":{"data":{"stderr":"AP/+"}}}"#),
        Case(
            name: "pty", message: P.StartResponse(.data(.init(.pty(Array("\u{1B}[32m".utf8))))),
            json: #"{"event":{"data":{"pty":"G1szMm0="}}}"#),
        Case(name: "empty stdout chunk", message: P.StartResponse(.data(.init(.stdout([])))), json: #"{"event":{"data":{"stdout":""}}}"#),
        Case(
            name: "end", message: P.StartResponse(.end(.init(exitCode: 3, exited: true, status: "exit status 3"))),
            json: #"{"event":{"end":{"exitCode":3,"exited":true,"status":"exit status 3"}}}"#),
        Case(
            name: "end by signal",
            message: P.StartResponse(.end(.init(exitCode: -1, exited: false, status: "signal: killed", error: "signal: killed"))),
            json: #"{"event":{"end":{"exitCode":-1,"status":"signal: killed","error":"signal: killed"}}}"#),
        Case(
            name: "end with an empty error", message: P.StartResponse(.end(.init(exitCode: 0, exited: false, status: "", error: ""))),
            json: #"{"event":{"end":{"error":""}}}"#),
        Case(name: "keepalive", message: P.StartResponse(.keepalive), json: #"{"event":{"keepalive":{}}}"#),
        Case(
            name: "process list",
            message: P.ListResponse(processes: [
                P.ProcessInfo(
                    config: P.ProcessConfig(cmd: "/bin/bash", args: ["-l", "-c", "sleep 10"], envs: ["B": "2", "A": "1"], cwd: "/tmp"),
                    pid: 9,
                    tag: "t"),
                P.ProcessInfo(config: nil, pid: 10),
            ]),
            json:
                #"{"processes":[{"config":{"cmd":"/bin/bash","args":["-l","-c","sleep 10"],"envs":{"A":"1","B":"2"},"cwd":"/tmp"},"pid":9,"tag":"t"},{"pid":10}]}"#
        ),
        Case(name: "empty process list", message: P.ListResponse(), json: "{}"),
        Case(
            name: "stat of a 5 GB file",
            message: F.StatResponse(
                entry: F.EntryInfo(
                    name: "a.txt", type: .file, path: "/home/user/a.txt", size: 5_000_000_000, mode: 0o644, permissions: "-rw-r--r--",
                    owner: "user",
                    group: "user", modifiedTime: modified, metadata: ["k": "v"])),
            json:
                #"{"entry":{"name":"a.txt","type":"FILE_TYPE_FILE","path":"/home/user/a.txt","size":"5000000000","mode":420,"permissions":"-rw-r--r--","owner":"user","group":"user","modifiedTime":"2023-11-14T22:13:20.123Z","metadata":{"k":"v"}}}"#
        ),
        Case(
            name: "stat of a symlink to a directory",
            message: F.StatResponse(
                entry: F.EntryInfo(
                    name: "l", type: .directory, path: "/home/user/l", mode: 0o777, permissions: "lrwxrwxrwx", owner: "user", group: "user",
                    modifiedTime: Timestamp(seconds: 1_700_000_000), symlinkTarget: "/tmp", isSymlink: true)),
            json:
                #"{"entry":{"name":"l","type":"FILE_TYPE_DIRECTORY","path":"/home/user/l","mode":511,"permissions":"lrwxrwxrwx","owner":"user","group":"user","modifiedTime":"2023-11-14T22:13:20Z","symlinkTarget":"/tmp","isSymlink":true}}"#
        ),
        Case(
            name: "nanoseconds before the epoch, present empty symlink target",
            message: F.StatResponse(
                entry: F.EntryInfo(
                    name: "n", type: .unspecified, path: "", modifiedTime: Timestamp(seconds: -1, nanos: 999_999_999), symlinkTarget: "")),
            json: #"{"entry":{"name":"n","modifiedTime":"1969-12-31T23:59:59.999999999Z","symlinkTarget":""}}"#),
        Case(
            name: "microseconds, negative int64",
            message: F.StatResponse(
                entry: F.EntryInfo(name: "m", type: .unspecified, path: "", size: -5, modifiedTime: Timestamp(seconds: 0, nanos: 1000))),
            json: #"{"entry":{"name":"m","size":"-5","modifiedTime":"1970-01-01T00:00:00.000001Z"}}"#),
        Case(
            name: "list dir",
            message: F.ListDirResponse(entries: [
                F.EntryInfo(name: "a", type: .file, path: "/a"), F.EntryInfo(name: "b", type: .symlink, path: "/b"),
            ]),
            json: #"{"entries":[{"name":"a","type":"FILE_TYPE_FILE","path":"/a"},{"name":"b","type":"FILE_TYPE_SYMLINK","path":"/b"}]}"#),
        Case(name: "watcher id", message: F.CreateWatcherResponse(watcherID: "w-1"), json: #"{"watcherId":"w-1"}"#),
        Case(
            name: "watcher events",
            message: F.GetWatcherEventsResponse(events: [
                F.FilesystemEvent(name: "a", type: .create),
                F.FilesystemEvent(name: "b", type: .chmod, entry: F.EntryInfo(name: "b", type: .file, path: "/tmp/b")),
            ]),
            json:
                #"{"events":[{"name":"a","type":"EVENT_TYPE_CREATE"},{"name":"b","type":"EVENT_TYPE_CHMOD","entry":{"name":"b","type":"FILE_TYPE_FILE","path":"/tmp/b"}}]}"#
        ),
        Case(name: "watch start", message: F.WatchDirResponse(.start), json: #"{"start":{}}"#),
        Case(
            name: "watch event", message: F.WatchDirResponse(.filesystem(.init(name: "x", type: .rename))),
            json: #"{"filesystem":{"name":"x","type":"EVENT_TYPE_RENAME"}}"#),
        Case(name: "watch keepalive", message: F.WatchDirResponse(.keepalive), json: #"{"keepalive":{}}"#),
        Case(name: "empty response", message: F.RemoveResponse(), json: "{}"),
        Case(
            name: "control characters escaped, the rest raw",
            message: P.ProcessConfig(cmd: "a\u{01}\u{1F}\u{7F}/<>&\u{2028}é😀\t\r\n\u{08}\u{0C}"),
            json: "{\"cmd\":\"a\\u0001\\u001f\u{7F}/<>&\u{2028}é😀\\t\\r\\n\\b\\f\"}"),
    ]

    @Test("encodes byte for byte as the SDK writes it, and decodes back", arguments: cases)
    func pinned(_ c: Case) throws {
        #expect(string(c.message.protoJSON()) == c.json)
        #expect(try roundTrip(c.message, c.json))
    }

    func roundTrip<M: ProtoMessage>(_ message: M, _ json: String) throws -> Bool {
        try M(protoJSON: Array(json.utf8)) == message
    }

    @Test("a whole Start stream: events, then the end message, as one response body")
    func startStream() throws {
        let events: [P.StartResponse] = [
            P.StartResponse(.start(.init(pid: 1234))), P.StartResponse(.data(.init(.stdout(Array("hi\n".utf8))))),
            P.StartResponse(.keepalive),
            P.StartResponse(.end(.init(exitCode: 0, exited: true, status: "exit status 0"))),
        ]
        let body = events.flatMap { ConnectEnvelope(message: $0).encoded() } + ConnectEndStream().envelope().encoded()
        var decoder = ConnectEnvelopeDecoder(direction: .responses, maxMessageBytes: 1 << 16)
        let envelopes = try decoder.feed(body)
        try decoder.finish()
        #expect(envelopes.count == 5)
        #expect(try envelopes.dropLast().map { try P.StartResponse(envelopePayload: $0.payload) } == events)
        #expect(try ConnectEndStream(json: envelopes[4].payload) == ConnectEndStream())
        #expect(Array(body.prefix(5)) == [0x00, 0x00, 0x00, 0x00, 0x20])
    }
}
