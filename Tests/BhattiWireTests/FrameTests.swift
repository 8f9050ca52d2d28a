import BhattiWire
import Testing

@Suite("Frame format")
struct FrameTests {
    // Header: u32 length, u32 stream, u8 type; then the payload.
    @Test("golden bytes for every frame type", arguments: FrameType.allCases)
    func golden(type: FrameType) throws {
        let frame = Frame(stream: 0x0102_0304, type: type, payload: [0xAA, 0xBB])
        #expect(frame.encoded() == [0, 0, 0, 2, 1, 2, 3, 4, type.rawValue, 0xAA, 0xBB])
        var decoder = FrameDecoder()
        decoder.append(frame.encoded())
        #expect(try decoder.next() == frame)
        #expect(try decoder.next() == nil)
    }

    @Test("type bytes are pinned")
    func typeValues() {
        let pinned: [FrameType: UInt8] = [
            .hello: 0x01, .helloReply: 0x02, .ping: 0x03, .pong: 0x04, .credit: 0x05, .data: 0x06, .end: 0x07,
            .result: 0x08, .exec: 0x10, .stdin: 0x11, .stdout: 0x12, .stderr: 0x13, .exit: 0x14, .kill: 0x15,
            .resize: 0x16, .detach: 0x18, .session: 0x20, .sessionInfo: 0x21, .sessionList: 0x22, .sessionKill: 0x23,
            .fileRead: 0x30, .fileWrite: 0x31, .fileStat: 0x32, .fileList: 0x33, .fileMakeDirectory: 0x34, .fileMove: 0x35,
            .fileRemove: 0x36, .watch: 0x37, .forward: 0x40, .activity: 0x50,
            .configure: 0x60, .clock: 0x61, .error: 0x1f,
        ]
        for t in FrameType.allCases { #expect(pinned[t] == t.rawValue) }
    }

    @Test("an empty payload encodes as a bare header")
    func emptyPayload() throws {
        #expect(Frame(stream: 7, type: .kill).encoded() == [0, 0, 0, 0, 0, 0, 0, 7, 0x15])
    }

    @Test("frames split across reads and glued together decode the same")
    func splitAndGlued() throws {
        let frames = (0..<20).map { Frame(stream: UInt32($0), type: .stdout, payload: Array(repeating: UInt8($0), count: $0 * 37)) }
        let bytes = frames.flatMap { $0.encoded() }
        for chunk in [1, 2, 7, 9, 64, bytes.count] {
            var decoder = FrameDecoder()
            var out: [Frame] = []
            var i = 0
            while i < bytes.count {
                decoder.append(bytes[i..<min(i + chunk, bytes.count)])
                while let f = try decoder.next() { out.append(f) }
                i += chunk
            }
            #expect(out == frames)
            #expect(decoder.pendingByteCount == 0)
        }
    }

    @Test("an oversized frame is refused before its payload arrives")
    func tooLarge() {
        var decoder = FrameDecoder()
        decoder.append([0x00, 0x10, 0x00, 0x01, 0, 0, 0, 1, 0x12])
        #expect(throws: WireError.frameTooLarge((1 << 20) + 1)) { try decoder.next() }
    }

    @Test("an unknown type is an error, not skipped")
    func unknownType() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0, 0, 0, 0, 1, 0x7e])
        #expect(throws: WireError.unknownFrameType(0x7e)) { try decoder.next() }
    }

    @Test("random bytes never crash the decoder and never yield more than they contain")
    func fuzz() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<64, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias some inputs towards plausible headers.
            if n > 9, Bool.random(using: &rng) {
                bytes[0] = 0
                bytes[1] = 0
                bytes[2] = 0
                bytes[8] = FrameType.allCases.randomElement(using: &rng)!.rawValue
            }
            var decoder = FrameDecoder()
            decoder.append(bytes)
            var consumed = 0
            while true {
                guard let f = try? decoder.next() else { break }
                consumed += Frame.headerSize + f.payload.count
            }
            #expect(consumed <= bytes.count)
        }
    }

    @Test(
        "the hand-written exit payload decodes to the same status",
        arguments: [
            BhattiWire.ExitStatus(code: 0), BhattiWire.ExitStatus(code: 137, signal: 9, guestMicroseconds: 12),
            BhattiWire.ExitStatus(code: -1, guestMicroseconds: 0),
        ])
    func fastExit(status: BhattiWire.ExitStatus) throws {
        #expect(try WireJSON.decode(BhattiWire.ExitStatus.self, from: Frame(stream: 1, type: .exit, payload: status.fastJSON)) == status)
    }

    @Test("JSON messages round trip with snake_case keys")
    func messages() throws {
        let reply = HelloReply(version: 1, agentVersion: "0.1.0", bootID: "b", uptimeMilliseconds: 5)
        let text = String(decoding: WireJSON.encode(reply), as: UTF8.self)
        #expect(text.contains("\"boot_id\":\"b\""))
        #expect(text.contains("\"uptime_ms\":5"))
        let frame = Frame(stream: 0, type: .helloReply, payload: WireJSON.encode(reply))
        #expect(try WireJSON.decode(HelloReply.self, from: frame) == reply)
        #expect(throws: WireError.self) { try WireJSON.decode(ExitStatus.self, from: Frame(stream: 1, type: .exit, payload: [0x7b])) }
    }
}
