import BhattiE2B
import Testing

@Suite("Connect request headers")
struct ConnectRequestHeadTests {
    static let contentTypes: [(String?, ConnectRequestKind?)] = [
        ("application/json", .unary),
        ("application/connect+json", .streaming),
        ("Application/JSON; charset=utf-8", .unary),
        ("application/connect+json;charset=utf-8", .streaming),
        (" application/json ", .unary),
        // Codecs we don't speak, and non-Connect bodies: HTTP 415.
        ("application/proto", nil),
        ("application/connect+proto", nil),
        ("application/grpc", nil),
        ("text/plain", nil),
        ("application/jsonx", nil),
        ("", nil),
        (nil, nil),
    ]

    @Test("content types: unary JSON, streaming JSON, or 415", arguments: contentTypes)
    func kind(contentType: String?, kind: ConnectRequestKind?) {
        #expect(ConnectContentType.kind(of: contentType) == kind)
    }

    @Test("only identity encoding is readable; anything else is unimplemented")
    func encodings() {
        for ok in [nil, "identity", "IDENTITY", ""] as [String?] {
            #expect(throws: Never.self) { try ConnectRequestHead.checkEncoding(ok) }
        }
        for bad in ["gzip", "br", "zstd"] {
            #expect(throws: ConnectError(.unimplemented, "unknown compression \"\(bad)\": supported encodings are identity")) {
                try ConnectRequestHead.checkEncoding(bad)
            }
        }
        #expect(ConnectCode.unimplemented.httpStatus == 501)
    }

    @Test(
        "connect-timeout-ms: up to 10 digits", arguments: [("60000", 60000), ("0", 0), ("9999999999", 9_999_999_999)] as [(String, Int64)])
    func timeout(header: String, ms: Int64) throws {
        #expect(try ConnectRequestHead.timeoutMilliseconds(header) == ms)
    }

    @Test("a bad connect-timeout-ms is invalid_argument", arguments: ["", "-1", "1.5", "12345678901", " 1", "1s"])
    func badTimeout(header: String) {
        #expect(throws: ConnectError.self) { try ConnectRequestHead.timeoutMilliseconds(header) }
    }

    @Test("no connect-timeout-ms means no deadline")
    func noTimeout() throws {
        #expect(try ConnectRequestHead.timeoutMilliseconds(nil) == nil)
    }

    @Test("connect-protocol-version is optional but must be 1")
    func protocolVersion() {
        #expect(throws: Never.self) { try ConnectRequestHead.checkProtocolVersion(nil) }
        #expect(throws: Never.self) { try ConnectRequestHead.checkProtocolVersion("1") }
        #expect(throws: ConnectError.self) { try ConnectRequestHead.checkProtocolVersion("2") }
    }

    @Test("procedures: paths and which are enveloped")
    func procedures() {
        #expect(EnvdProcedure(rawValue: "/process.Process/Start") == .processStart)
        #expect(EnvdProcedure.allCases.count == 17)
        let streaming = Set(EnvdProcedure.allCases.filter { $0.kind == .streaming })
        #expect(streaming == [.processStart, .processConnect, .processStreamInput, .filesystemWatchDir])
        #expect(EnvdProcedure.allCases.filter(\.isServerStreaming).count == 3)
        #expect(EnvdProcedure.filesystemListDir.path == "/filesystem.Filesystem/ListDir")
    }
}
