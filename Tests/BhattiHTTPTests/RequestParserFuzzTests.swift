import Testing

@testable import BhattiHTTP

/// Property tests of the request parser: arbitrary bytes never crash it, and where a request is
/// split across reads makes no difference.
@Suite("Request parser properties")
struct RequestParserFuzzTests {
    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    static let samples: [String] = [
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{\"name\":\"a\"}\n",
        "PUT /f?path=%2Ftmp%2Fa HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "GET /v1/sandboxes/x/shell HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ]

    /// Everything the parser yields for `bytes` fed in `chunks`: request lines, or the first error.
    static func parse(_ bytes: [UInt8], chunks: [Int]) -> [String] {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxBodyBytes: 4096))
        var out: [String] = []
        var offset = 0
        var sizes = chunks.makeIterator()
        while offset < bytes.count {
            let n = min(max(1, sizes.next() ?? bytes.count), bytes.count - offset)
            parser.feed(bytes[offset..<offset + n])
            offset += n
            while true {
                do {
                    guard let event = try parser.next() else { break }
                    if case .request(let r) = event { out.append("\(r.method) \(r.target) \(r.body.count)") }
                } catch {
                    out.append("error \(error.status)")
                    return out
                }
            }
        }
        return out
    }

    @Test("random bytes: no crash, at most an error", arguments: 1...8)
    func randomBytes(seed: Int) {
        var rng = Rng(state: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1)
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = Self.parse(bytes, chunks: [Int.random(in: 1...64, using: &rng)])
        }
    }

    @Test("mutated valid requests: no crash", arguments: 1...8)
    func mutations(seed: Int) {
        var rng = Rng(state: UInt64(seed) &* 0xD1B5_4A32_D192_ED03 | 1)
        for _ in 0..<300 {
            var bytes = Array(Self.samples.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                }
                if bytes.isEmpty { break }
            }
            _ = Self.parse(bytes, chunks: [Int.random(in: 1...32, using: &rng)])
        }
    }

    @Test("pipelined requests parse the same however they are split", arguments: 1...8)
    func splitting(seed: Int) {
        var rng = Rng(state: UInt64(seed) &* 0x94D0_49BB_1331_11EB | 1)
        let stream = Array(Self.samples.joined().utf8)
        let whole = Self.parse(stream, chunks: [stream.count])
        #expect(whole.count == Self.samples.count)
        for _ in 0..<50 {
            let chunks = (0..<200).map { _ in Int.random(in: 1...40, using: &rng) }
            #expect(Self.parse(stream, chunks: chunks) == whole)
        }
    }
}
