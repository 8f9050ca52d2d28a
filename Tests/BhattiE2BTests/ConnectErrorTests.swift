import BhattiE2B
import Testing

@Suite("Connect errors")
struct ConnectErrorTests {
    // The table of https://connectrpc.com/docs/protocol#error-codes, written out again here.
    static let table: [(String, Int)] = [
        ("canceled", 499), ("unknown", 500), ("invalid_argument", 400), ("deadline_exceeded", 504), ("not_found", 404),
        ("already_exists", 409), ("permission_denied", 403), ("resource_exhausted", 429), ("failed_precondition", 400),
        ("aborted", 409), ("out_of_range", 400), ("unimplemented", 501), ("internal", 500), ("unavailable", 503),
        ("data_loss", 500), ("unauthenticated", 401),
    ]

    @Test("every code has its wire name and the spec's HTTP status", arguments: table)
    func codes(name: String, status: Int) throws {
        let code = try #require(ConnectCode(rawValue: name))
        #expect(code.httpStatus == status)
        #expect(ConnectError(code).httpStatus == status)
    }

    @Test("the table covers all sixteen codes")
    func complete() {
        #expect(ConnectCode.allCases.count == 16)
        #expect(Set(Self.table.map(\.0)) == Set(ConnectCode.allCases.map(\.rawValue)))
    }

    @Test("codes inferred from a bare HTTP status, per the spec's HTTP-to-code table")
    func inferred() {
        let table: [(Int, ConnectCode)] = [
            (400, .internal), (401, .unauthenticated), (403, .permissionDenied), (404, .unimplemented), (429, .unavailable),
            (502, .unavailable), (503, .unavailable), (504, .unavailable), (500, .unknown), (418, .unknown),
        ]
        for (status, code) in table { #expect(ConnectCode.inferred(fromHTTPStatus: status) == code, "\(status)") }
    }

    @Test("unary error bodies; the message is left out when empty")
    func errorJSON() {
        #expect(
            string(ConnectError(.notFound, "process with pid 999 not found").jsonBytes())
                == #"{"code":"not_found","message":"process with pid 999 not found"}"#)
        #expect(string(ConnectError(.unavailable).jsonBytes()) == #"{"code":"unavailable"}"#)
        #expect(string(ConnectError(.internal, "a \"quoted\"\nline").jsonBytes()) == #"{"code":"internal","message":"a \"quoted\"\nline"}"#)
    }

    @Test("error bodies read back; an unknown code reads as unknown; {} is not an error")
    func errorDecode() throws {
        #expect(
            try ConnectError(json: Array(#"{"code":"already_exists","message":"exists","details":[]}"#.utf8))
                == ConnectError(.alreadyExists, "exists"))
        #expect(try ConnectError(json: Array(#"{"code":"teapot"}"#.utf8)) == ConnectError(.unknown))
        #expect(throws: WireDecodingError.self) { try ConnectError(json: Array("{}".utf8)) }
        #expect(throws: WireDecodingError.self) { try ConnectError(json: Array(#"{"code":null}"#.utf8)) }
        #expect(throws: WireDecodingError.self) { try ConnectError(json: Array(#"{"code":404}"#.utf8)) }
    }

    @Test("end-of-stream messages: {} on success, the error otherwise, metadata sorted by key")
    func endStream() {
        #expect(string(ConnectEndStream().jsonBytes()) == "{}")
        #expect(
            string(ConnectEndStream(error: ConnectError(.unavailable, "the connection to sandbox ended")).jsonBytes())
                == #"{"error":{"code":"unavailable","message":"the connection to sandbox ended"}}"#)
        #expect(
            string(ConnectEndStream(error: ConnectError(.deadlineExceeded), metadata: ["x-b": ["2"], "x-a": ["1", "one"]]).jsonBytes())
                == #"{"error":{"code":"deadline_exceeded"},"metadata":{"x-a":["1","one"],"x-b":["2"]}}"#)
        #expect(ConnectEndStream().envelope().encoded() == [0x02, 0, 0, 0, 2, 0x7B, 0x7D])
    }

    @Test("end-of-stream messages read back; {\"error\":null} is invalid")
    func endStreamDecode() throws {
        #expect(try ConnectEndStream(json: Array("{}".utf8)) == ConnectEndStream())
        #expect(
            try ConnectEndStream(json: Array(#"{"metadata":{"x-trailer":["a","b"]},"error":{"code":"canceled"}}"#.utf8))
                == ConnectEndStream(error: ConnectError(.canceled), metadata: ["x-trailer": ["a", "b"]]))
        #expect(throws: WireDecodingError.self) { try ConnectEndStream(json: Array(#"{"error":null}"#.utf8)) }
        #expect(throws: WireDecodingError.self) { try ConnectEndStream(json: Array(#"{"error":{}}"#.utf8)) }
    }

    @Test("a message that does not decode answers invalid_argument, as connect-go does")
    func decodeFailureCode() {
        #expect(throws: WireDecodingError.self) { try EnvdProcess.SendSignalRequest(protoJSON: Array("{".utf8)) }
        do {
            _ = try EnvdProcess.SendSignalRequest(protoJSON: Array(#"{"process":{"pid":"x"}}"#.utf8))
            Issue.record("decoded a string pid")
        } catch {
            #expect(error.connectError.code == .invalidArgument)
            #expect(error.message.contains("process.pid"))
        }
    }
}

func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
