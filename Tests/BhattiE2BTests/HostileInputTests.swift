import BhattiE2B
import Testing

/// Mutated SDK bodies fed to every decoder: each must answer a value or a thrown error, never trap.
/// Deterministic (a fixed-seed generator), so a failure reproduces.
@Suite("hostile input")
struct HostileInputTests {
    static let seeds: [String] = [
        #"{"process":{"cmd":"/bin/bash","args":["-i","-l"],"envs":{"A":"1","TERM":"xterm-256color"},"cwd":"/home/user"},"pty":{"size":{"cols":80,"rows":24}}}"#,
        #"{"process":{"pid":1234},"input":{"pty":"bHMKBA=="}}"#,
        #"{"process":{"tag":"t1"},"signal":"SIGNAL_SIGTERM"}"#,
        #"{"event":{"end":{"exitCode":-1,"status":"signal: killed","error":"signal: killed"}}}"#,
        #"{"entry":{"name":"a","type":"FILE_TYPE_FILE","size":"5000000000","modifiedTime":"2023-11-14T22:13:20.123Z"}}"#,
        #"{"templateID":"base","timeout":300,"metadata":{"k":"v"},"envVars":{"E":"1"}}"#,
    ]

    /// Bytes that make JSON interesting: structure, quotes, escapes, digits, base64, non-ASCII.
    static let alphabet = Array(#"{}[]":,\/-+.0123456789eE"#.utf8) + Array("tfnu aZ=_".utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xA9, 0xFF]

    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
    }

    static func mutate(_ bytes: [UInt8], _ g: inout Generator) -> [UInt8] {
        var b = bytes
        for _ in 0...g.next(3) {
            let i = g.next(b.count + 1)
            switch g.next(4) {
            case 0 where i < b.count: b[i] = alphabet[g.next(alphabet.count)]
            case 1: b.insert(alphabet[g.next(alphabet.count)], at: i)
            case 2 where i < b.count: b.remove(at: i)
            default: b = Array(b.prefix(i))
            }
        }
        return b
    }

    @Test("mutated bodies decode or fail, never trap")
    func mutatedBodies() {
        var g = Generator(state: 0x5EED)
        var decoded = 0
        for round in 0..<1500 {
            let body = Self.mutate(Array(Self.seeds[round % Self.seeds.count].utf8), &g)
            let attempts: [Bool] = [
                (try? EnvdProcess.StartRequest(protoJSON: body)) != nil,
                (try? EnvdProcess.SendInputRequest(protoJSON: body)) != nil,
                (try? EnvdProcess.SendSignalRequest(protoJSON: body)) != nil,
                (try? EnvdProcess.StartResponse(protoJSON: body)) != nil,
                (try? EnvdFilesystem.StatResponse(protoJSON: body)) != nil,
                (try? ControlPlaneJSON.decode(NewSandbox.self, from: body)) != nil,
                (try? ConnectEndStream(json: body)) != nil,
            ]
            decoded += attempts.filter { $0 }.count
        }
        // Some mutations stay valid JSON (unknown keys, changed strings): both outcomes occur.
        #expect(decoded > 0)
    }

    @Test("random bytes through the envelope decoder, in random chunks, never trap")
    func randomFraming() {
        var g = Generator(state: 0xF4A3)
        for _ in 0..<500 {
            var bytes = (0..<g.next(64)).map { _ in UInt8(g.next(256)) }
            // Keep lengths small often enough that whole envelopes also complete.
            if bytes.count > 4, g.next(2) == 0 {
                bytes[1] = 0
                bytes[2] = 0
                bytes[3] = 0
            }
            var decoder = ConnectEnvelopeDecoder(direction: g.next(2) == 0 ? .requests : .responses, maxMessageBytes: 128)
            var i = 0
            while i < bytes.count {
                let n = 1 + g.next(9)
                _ = try? decoder.feed(bytes[i..<min(i + n, bytes.count)])
                i += n
            }
            _ = try? decoder.finish()
        }
    }
}
