import BhattiE2B
import Testing

@Suite("Connect envelopes")
struct ConnectEnvelopeTests {
    static let envelopes: [ConnectEnvelope] = [
        ConnectEnvelope(payload: Array(#"{"event":{"start":{"pid":1234}}}"#.utf8)),
        ConnectEnvelope(payload: []),
        ConnectEnvelope(payload: Array(repeating: 0x61, count: 300)),
        ConnectEnvelope(flags: .endStream, payload: Array("{}".utf8)),
    ]

    @Test("golden header bytes: flag, then the length big-endian")
    func golden() {
        #expect(ConnectEnvelope(payload: [0x7B, 0x7D]).encoded() == [0x00, 0, 0, 0, 2, 0x7B, 0x7D])
        #expect(ConnectEnvelope(flags: .endStream, payload: []).encoded() == [0x02, 0, 0, 0, 0])
        let big = ConnectEnvelope(payload: Array(repeating: 0, count: 0x01_0203)).encoded()
        #expect(Array(big.prefix(5)) == [0x00, 0x00, 0x01, 0x02, 0x03])
        #expect(ConnectEnvelope.Flags.compressed.rawValue == 0x01)
        #expect(ConnectEnvelope.Flags.endStream.rawValue == 0x02)
    }

    @Test("a response stream round-trips when split at every byte boundary")
    func everySplit() throws {
        let bytes = Self.envelopes.flatMap { $0.encoded() }
        for cut in 0...bytes.count {
            var decoder = ConnectEnvelopeDecoder(direction: .responses, maxMessageBytes: 1 << 20)
            var out = try decoder.feed(bytes[..<cut])
            out += try decoder.feed(bytes[cut...])
            try decoder.finish()
            #expect(out == Self.envelopes, "split at \(cut)")
            #expect(decoder.sawEndStream)
        }
    }

    @Test("fed one byte at a time, or in chunks of any size, the envelopes come out the same", arguments: [1, 2, 3, 5, 7, 64, 4096])
    func chunked(size: Int) throws {
        let bytes = Self.envelopes.flatMap { $0.encoded() }
        var decoder = ConnectEnvelopeDecoder(direction: .responses, maxMessageBytes: 1 << 20)
        var out: [ConnectEnvelope] = []
        var i = 0
        while i < bytes.count {
            out += try decoder.feed(bytes[i..<min(i + size, bytes.count)])
            i += size
        }
        try decoder.finish()
        #expect(out == Self.envelopes)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("the SDK's Start request body, as captured on the wire, is one envelope")
    func sdkStartRequest() throws {
        // e2b 2.63.0 `commands.run("echo hi")`: POST /process.Process/Start, chunked body.
        let json = #"{"process":{"cmd":"/bin/bash","args":["-l","-c","echo hi"]},"stdin":false}"#
        let wire: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x4A] + Array(json.utf8)
        var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 4096)
        let out = try decoder.feed(wire)
        try decoder.finish()
        #expect(out == [ConnectEnvelope(payload: Array(json.utf8))])
        let request = try EnvdProcess.StartRequest(envelopePayload: out[0].payload)
        #expect(request.process?.args == ["-l", "-c", "echo hi"])
        #expect(request.stdin == false)
    }

    struct Refusal: Sendable, CustomStringConvertible {
        let name: String
        let direction: ConnectEnvelopeDecoder.Direction
        let bytes: [UInt8]
        let error: ConnectFramingError
        let code: ConnectCode
        var description: String { name }
    }

    static let refusals: [Refusal] = [
        // The header alone is enough to refuse: none of the 1 MiB payload is sent.
        Refusal(
            name: "length over the limit", direction: .requests, bytes: [0x00, 0x00, 0x10, 0x00, 0x00],
            error: .messageTooLarge(length: 1 << 20, limit: 1024), code: .resourceExhausted),
        Refusal(
            name: "max UInt32 length", direction: .requests, bytes: [0x00, 0xFF, 0xFF, 0xFF, 0xFF],
            error: .messageTooLarge(length: Int(UInt32.max), limit: 1024), code: .resourceExhausted),
        Refusal(name: "compressed flag", direction: .requests, bytes: [0x01, 0, 0, 0, 2, 0x7B, 0x7D], error: .compressed, code: .internal),
        Refusal(
            name: "compressed end-stream", direction: .responses, bytes: [0x03, 0, 0, 0, 2, 0x7B, 0x7D], error: .compressed, code: .internal
        ),
        Refusal(
            name: "end-stream in a request", direction: .requests, bytes: [0x02, 0, 0, 0, 2, 0x7B, 0x7D], error: .invalidFlags(0x02),
            code: .internal),
        Refusal(name: "reserved flag bit", direction: .responses, bytes: [0x80, 0, 0, 0, 0], error: .invalidFlags(0x80), code: .internal),
        Refusal(
            name: "bytes after the end message", direction: .responses, bytes: [0x02, 0, 0, 0, 2, 0x7B, 0x7D, 0x00],
            error: .dataAfterEndStream, code: .internal),
    ]

    @Test("bad framing is refused with the error connect-go gives", arguments: refusals)
    func refused(_ r: Refusal) {
        var decoder = ConnectEnvelopeDecoder(direction: r.direction, maxMessageBytes: 1024)
        #expect(throws: r.error) { _ = try decoder.feed(r.bytes) }
        #expect(r.error.connectError.code == r.code)
        // Once failed, it stays failed.
        #expect(throws: r.error) { _ = try decoder.feed([0x00]) }
    }

    @Test("an oversized length is refused before any payload byte is buffered")
    func refusedAtHeader() throws {
        var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 10)
        _ = try decoder.feed([0x00, 0x00, 0x00])
        #expect(decoder.bufferedByteCount == 3)
        #expect(throws: ConnectFramingError.messageTooLarge(length: 11, limit: 10)) {
            _ = try decoder.feed([0x00, 0x0B] + Array(repeating: 0, count: 11))
        }
        var exact = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 10)
        #expect(try exact.feed([0x00, 0, 0, 0, 10] + Array(repeating: 0x20, count: 10)).count == 1)
    }

    @Test("a body that ends inside an envelope is truncated", arguments: [1, 4, 5, 6, 8])
    func truncated(cut: Int) throws {
        let bytes = ConnectEnvelope(payload: [1, 2, 3, 4]).encoded()
        var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 1024)
        #expect(try decoder.feed(bytes.prefix(cut)).isEmpty)
        #expect(throws: ConnectFramingError.truncated(bufferedBytes: cut)) { try decoder.finish() }
        #expect(ConnectFramingError.truncated(bufferedBytes: cut).connectError.code == .invalidArgument)
    }

    @Test("a request stream may end after any whole envelope, even none; a response stream needs its end message")
    func cleanEnds() throws {
        var empty = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: 16)
        try empty.finish()
        var responses = ConnectEnvelopeDecoder(direction: .responses, maxMessageBytes: 16)
        _ = try responses.feed(ConnectEnvelope(payload: Array("{}".utf8)).encoded())
        #expect(throws: ConnectFramingError.missingEndStream) { try responses.finish() }
    }

    @Test("an empty data envelope decodes to the default message, as connect-go skips the codec for it")
    func emptyPayload() throws {
        #expect(try EnvdProcess.ConnectRequest(envelopePayload: []) == EnvdProcess.ConnectRequest())
        #expect(throws: WireDecodingError.self) { try EnvdProcess.ConnectRequest(protoJSON: [UInt8]()) }
    }
}
