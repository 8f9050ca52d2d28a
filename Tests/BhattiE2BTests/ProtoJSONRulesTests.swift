import BhattiE2B
import Testing

/// The proto3 JSON reading rules, each as accepted/refused inputs. Where Go's protojson (what the real
/// envd uses) and the SDK's protobuf-py differ, we follow protojson: both names of one field, and two
/// members of a oneof, are errors (protobuf-py keeps the last).
@Suite("proto3 JSON rules")
struct ProtoJSONRulesTests {
    typealias P = EnvdProcess
    typealias F = EnvdFilesystem

    static func decode<M: ProtoMessage>(_ type: M.Type, _ json: String) throws -> M { try M(protoJSON: Array(json.utf8)) }

    @Test(
        "uint32: numbers or strings holding one, integral and in range",
        arguments: [
            (#"1234"#, 1234), (#""1234""#, 1234), (#"1.0"#, 1), (#"1e2"#, 100), (#""1e2""#, 100), (#"-0"#, 0),
            (#"4294967295"#, 4_294_967_295),
        ] as [(String, UInt32)])
    func uint32Accepted(text: String, value: UInt32) throws {
        #expect(try Self.decode(F.ListDirRequest.self, #"{"depth":\#(text)}"#).depth == value)
    }

    @Test(
        "uint32: wrong types and ranges are errors, not traps",
        arguments: [
            "-1", "4294967296", "1.5", #""x""#, #"" 1""#, #""1 ""#, #""+1""#, #""""#, "true", "[]", "{}", "1e400",
        ])
    func uint32Refused(text: String) {
        #expect(throws: WireDecodingError.self) { try Self.decode(F.ListDirRequest.self, #"{"depth":\#(text)}"#) }
    }

    @Test(
        "int64: strings or numbers in; always a string out",
        arguments: [
            (#""5000000000""#, 5_000_000_000), ("5000000000", 5_000_000_000), (#""-9223372036854775808""#, Int64.min),
            ("9223372036854775807", Int64.max),
        ] as [(String, Int64)])
    func int64(text: String, value: Int64) throws {
        let e = try Self.decode(F.EntryInfo.self, #"{"size":\#(text)}"#)
        #expect(e.size == value)
        #expect(string(e.protoJSON()) == #"{"size":"\#(value)"}"#)
    }

    @Test("int64 out of range is an error", arguments: [#""9223372036854775808""#, "1e19", #""1.5""#])
    func int64Refused(text: String) {
        #expect(throws: WireDecodingError.self) { try Self.decode(F.EntryInfo.self, #"{"size":\#(text)}"#) }
    }

    @Test("sint32 exit codes: negative numbers and strings")
    func sint32() throws {
        #expect(try Self.decode(P.ProcessEvent.EndEvent.self, #"{"exitCode":"-3"}"#).exitCode == -3)
        #expect(try Self.decode(P.ProcessEvent.EndEvent.self, #"{"exit_code":-2147483648}"#).exitCode == Int32.min)
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessEvent.EndEvent.self, #"{"exitCode":2147483648}"#) }
    }

    @Test(
        "bytes: standard or URL-safe base64, padded or not",
        arguments: [
            ("aGkK", [0x68, 0x69, 0x0A]), ("aGk=", [0x68, 0x69]), ("aGk", [0x68, 0x69]), ("AP/+", [0x00, 0xFF, 0xFE]),
            ("AP_-", [0x00, 0xFF, 0xFE]),
            ("AA", [0x00]), ("AA==", [0x00]), ("", []),
        ] as [(String, [UInt8])])
    func bytesAccepted(text: String, value: [UInt8]) throws {
        let r = try Self.decode(P.ProcessInput.self, #"{"stdin":"\#(text)"}"#)
        #expect(r.input == .stdin(value))
    }

    @Test("bytes: not base64 is an error", arguments: ["a", "aGk=a", "a===", "aG k", "+/-_", "AA=", "====", "aGk*", "ü"])
    func bytesRefused(text: String) {
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessInput.self, #"{"stdin":"\#(text)"}"#) }
    }

    @Test("bytes are written as standard, padded base64")
    func bytesWritten() {
        let table: [([UInt8], String)] = [([], ""), ([0], "AA=="), ([0, 0], "AAA="), ([0, 0, 0], "AAAA"), ([0xFB, 0xFF], "+/8=")]
        for (bytes, text) in table {
            #expect(string(P.ProcessInput(.stdin(bytes)).protoJSON()) == #"{"stdin":"\#(text)"}"#)
        }
    }

    @Test("enums: names or numbers in; names out, numbers when unnamed; unknown names read as unset")
    func enums() throws {
        #expect(try Self.decode(P.SendSignalRequest.self, #"{"signal":"SIGNAL_SIGKILL"}"#).signal == .sigkill)
        #expect(try Self.decode(P.SendSignalRequest.self, #"{"signal":15}"#).signal == .sigterm)
        #expect(try Self.decode(P.SendSignalRequest.self, #"{"signal":"15"}"#).signal == .unspecified)
        #expect(try Self.decode(P.SendSignalRequest.self, #"{"signal":"SIGNAL_BOGUS"}"#).signal == .unspecified)
        let seven = try Self.decode(P.SendSignalRequest.self, #"{"signal":7}"#)
        #expect(seven.signal.rawValue == 7 && seven.signal.name == nil)
        #expect(string(seven.protoJSON()) == #"{"signal":7}"#)
        #expect(throws: WireDecodingError.self) { try Self.decode(P.SendSignalRequest.self, #"{"signal":1.5}"#) }
        #expect(throws: WireDecodingError.self) { try Self.decode(P.SendSignalRequest.self, #"{"signal":true}"#) }
        #expect(string(P.SendSignalRequest(process: nil, signal: .unspecified).protoJSON()) == "{}")
    }

    @Test("fields by their .proto names too; both names at once is an error")
    func protoNames() throws {
        #expect(try Self.decode(F.WatcherID.self, #"{"watcher_id":"a"}"#).watcherID == "a")
        #expect(
            try Self.decode(F.WatchRequest.self, #"{"include_entry":true,"allow_network_mounts":true}"#)
                == F.WatchRequest(path: "", includeEntry: true, allowNetworkMounts: true))
        #expect(
            try Self.decode(F.EntryInfo.self, #"{"modified_time":"1970-01-01T00:00:01Z","symlink_target":"x","is_symlink":true}"#)
                == F.EntryInfo(
                    name: "", type: .unspecified, path: "", modifiedTime: Timestamp(seconds: 1), symlinkTarget: "x", isSymlink: true))
        #expect(throws: WireDecodingError.self) { try Self.decode(F.WatcherID.self, #"{"watcherId":"a","watcher_id":"b"}"#) }
        // A null under one name doesn't count as setting it.
        #expect(try Self.decode(F.WatcherID.self, #"{"watcherId":null,"watcher_id":"b"}"#).watcherID == "b")
    }

    @Test("null reads as absent; unknown fields are ignored")
    func nullsAndUnknowns() throws {
        #expect(
            try Self.decode(
                P.StartRequest.self, #"{"process":{"cmd":"x","args":null,"envs":null,"cwd":null},"pty":null,"tag":null,"stdin":null}"#)
                == P.StartRequest(process: P.ProcessConfig(cmd: "x")))
        #expect(
            try Self.decode(P.StartRequest.self, #"{"process":{"cmd":"x","future":[1,{"a":null}]},"zzz":1,"stdinn":"no"}"#)
                == P.StartRequest(process: P.ProcessConfig(cmd: "x")))
        #expect(try Self.decode(F.ListDirRequest.self, #"{"path":"/","depth":null}"#) == F.ListDirRequest(path: "/", depth: 0))
    }

    @Test("a oneof with two members set is an error; a null member doesn't count")
    func oneofs() throws {
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessSelector.self, #"{"pid":1,"tag":"x"}"#) }
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessEvent.self, #"{"start":{"pid":1},"keepalive":{}}"#) }
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessEvent.DataEvent.self, #"{"stdout":"","stderr":"aGk="}"#) }
        #expect(try Self.decode(P.ProcessSelector.self, #"{"pid":1,"tag":null}"#).selector == .pid(1))
        #expect(try Self.decode(P.ProcessSelector.self, #"{}"#).selector == nil)
        #expect(throws: WireDecodingError.self) { try Self.decode(P.ProcessEvent.self, #"{"keepalive":1}"#) }
    }

    @Test("presence: optional fields are written when set, even to a default; plain ones only when not default")
    func presence() {
        #expect(string(P.StartRequest(process: nil, stdin: false).protoJSON()) == #"{"stdin":false}"#)
        #expect(string(P.StartRequest(process: P.ProcessConfig(cmd: "", cwd: "")).protoJSON()) == #"{"process":{"cwd":""}}"#)
        #expect(string(F.WatchRequest(path: "").protoJSON()) == "{}")
        #expect(string(P.PTY(size: .init(cols: 0, rows: 0)).protoJSON()) == #"{"size":{}}"#)
    }

    @Test(
        "hostile bodies are error values",
        arguments: [
            "", "null", "[]", "1", #""x""#, "{", #"{"process":}"#, #"{"process":[]}"#, #"{"process":{"cmd":1}}"#,
            #"{"process":{"args":[null]}}"#,
            #"{"process":{"args":"x"}}"#, #"{"process":{"envs":{"a":null}}}"#, #"{"process":{"envs":{"a":1}}}"#,
            #"{"process":{"envs":[]}}"#,
            #"{"pty":{"size":{"cols":-1}}}"#, #"{"stdin":"true"}"#, #"{"stdin":1}"#, "{\"process\":{\"cmd\":\"\u{0}\"}}",
        ])
    func hostile(body: String) {
        #expect(throws: WireDecodingError.self) { try Self.decode(P.StartRequest.self, body) }
    }

    @Test("invalid UTF-8 is an error value")
    func invalidUTF8() {
        #expect(throws: WireDecodingError.self) { try P.StartRequest(protoJSON: Array(#"{"tag":""#.utf8) + [0xFF] + Array(#""}"#.utf8)) }
    }

    @Test("deep nesting in an ignored field doesn't crash")
    func deepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        _ = try? Self.decode(P.StartRequest.self, #"{"unknown":\#(deep)}"#)
    }
}
