import BhattiJSON
import BhattiWire
import Foundation
import Testing

/// FastJSON must agree with Foundation's coders on every message it replaces: same bytes accepted,
/// same values out, either side free to use either coder.
@Suite("FastJSON")
struct FastJSONTests {
    /// Strings that stress the escaping: quotes, backslashes, every control character, non-ASCII.
    static let awkward = [
        "", "plain", "say \"hi\"", "back\\slash", "tab\there", "new\nline\r\n", "\u{0}\u{1}\u{1f}\u{7f}", "é ü 中文",
        "emoji 😀👩‍💻", "/slash/", "\u{2028}\u{2029}", "{\"not\":\"json\"}", "--flag=a b", "$(rm -rf /)",
    ]

    @Test("exec requests: our bytes decode with JSONDecoder, JSONEncoder's with ours (random, seeded)")
    func execRequestsRoundTrip() throws {
        var rng = SeededRandom(seed: 42)
        for _ in 0..<500 {
            let request = ExecRequest(
                argv: (0..<rng.next(upTo: 5)).map { _ in rng.pick(Self.awkward) + rng.word() },
                env: Dictionary(
                    (0..<rng.next(upTo: 4)).map { _ in (rng.word() + "_K", rng.pick(Self.awkward)) }, uniquingKeysWith: { a, _ in a }),
                cwd: rng.coin() ? "/work/" + rng.pick(Self.awkward) : nil, stdin: rng.coin(),
                detach: rng.coin() ? rng.coin() : nil, outputFile: rng.coin() ? "/tmp/" + rng.word() : nil,
                user: rng.coin() ? rng.pick(Self.awkward) : nil)
            #expect(try JSONDecoder().decode(ExecRequest.self, from: Data(request.fastJSON)) == request)
            #expect(try ExecRequest(fastJSON: Array(JSONEncoder().encode(request))) == request)
        }
    }

    @Test("hello, hello reply and exit status both ways")
    func smallMessages() throws {
        for token in Self.awkward {
            let hello = Hello(version: 3, token: token)
            #expect(try JSONDecoder().decode(Hello.self, from: Data(hello.fastJSON)) == hello)
            #expect(try Hello(fastJSON: Array(JSONEncoder().encode(hello))) == hello)
            let reply = HelloReply(version: 1, agentVersion: token, bootID: "b-" + token, uptimeMilliseconds: 123_456_789)
            #expect(try JSONDecoder().decode(HelloReply.self, from: Data(reply.fastJSON)) == reply)
            #expect(try HelloReply(fastJSON: Array(JSONEncoder().encode(reply))) == reply)
        }
        for status in [
            ExitStatus(code: 0), ExitStatus(code: 137, signal: 9, guestMicroseconds: 21_000), ExitStatus(code: -1, guestMicroseconds: 0),
        ] {
            #expect(try ExitStatus(fastJSON: status.fastJSON) == status)
            #expect(try ExitStatus(fastJSON: Array(JSONEncoder().encode(status))) == status)
        }
    }

    @Test("Codable's rules: unknown keys ignored, null optionals are nil, whitespace anywhere")
    func codableRules() throws {
        let text = #" { "stdin" : false , "argv" : [ "ls" , "-l" ] , "env" : { } , "cwd" : null , "future" : [ 1 , { "x" : true } ] } "#
        #expect(try ExecRequest(fastJSON: Array(text.utf8)) == ExecRequest(argv: ["ls", "-l"]))
    }

    @Test("escapes decode as JSON says: \\u, surrogate pairs, the short forms")
    func escapes() throws {
        let text = #"{"version":1,"token":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t\u0000"}"#
        #expect(try Hello(fastJSON: Array(text.utf8)).token == "é😀\"\\/\u{8}\u{c}\n\r\t\u{0}")
    }

    @Test(
        "malformed input is refused, as JSONSerialization refuses it",
        arguments: [
            "", "{", "}", "{\"a\" 1}", "{a:1}", "\"unterminated", "tru", "nul", "01", "1.", "-", "1e", ".5",
            "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "\"tab\there\"", "{} {}", "[1] x", "'single'", "NaN", "+1",
        ])
    func malformed(_ text: String) {
        #expect(throws: FastJSON.Malformed.self) { try FastJSON.parse(Array(text.utf8)) }
        #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    }

    @Test("trailing commas are refused (RFC 8259; Foundation lets them pass)", arguments: ["[1,]", "{\"a\":1,}"])
    func trailingCommas(_ text: String) {
        #expect(throws: FastJSON.Malformed.self) { try FastJSON.parse(Array(text.utf8)) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        #expect(throws: FastJSON.Malformed.self) { try FastJSON.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("nesting is bounded (no stack exhaustion on hostile input)")
    func depth() throws {
        #expect(throws: FastJSON.Malformed.self) { try FastJSON.parse(Array((String(repeating: "[", count: 10_000)).utf8)) }
        _ = try FastJSON.parse(Array((String(repeating: "[", count: 20) + String(repeating: "]", count: 20)).utf8))
    }

    @Test("missing keys and wrong types name the key")
    func typedErrors() {
        #expect(throws: FastJSON.Malformed(reason: "missing key \"argv\"", offset: 0)) {
            try ExecRequest(fastJSON: Array(#"{"env":{},"stdin":false}"#.utf8))
        }
        #expect(throws: FastJSON.Malformed(reason: "\"stdin\" is not a boolean", offset: 0)) {
            try ExecRequest(fastJSON: Array(#"{"argv":[],"env":{},"stdin":"yes"}"#.utf8))
        }
        #expect(throws: FastJSON.Malformed.self) { try ExitStatus(fastJSON: Array(#"{"code":4294967296}"#.utf8)) }
    }

    @Test("mutated requests: whenever both parsers accept one, they read the same request (seeded fuzz)")
    func fuzzAgainstFoundation() throws {
        var rng = SeededRandom(seed: 7)
        let seed = Array(ExecRequest(argv: ["sh", "-c", "echo \"a\\b\""], env: ["K": "v"], cwd: "/w", stdin: true).fastJSON)
        let alphabet = Array(#"{}[]",:\ 0123456789.eE+-tfnul"abc"#.utf8) + [0x00, 0xC3, 0xFF]
        var bothAccepted = 0
        for _ in 0..<3000 {
            var bytes = seed
            for _ in 0..<(1 + rng.next(upTo: 3)) {
                let at = rng.next(upTo: bytes.count)
                switch rng.next(upTo: 3) {
                case 0: bytes[at] = rng.pick(alphabet)
                case 1: bytes.remove(at: at)
                default: bytes.insert(rng.pick(alphabet), at: at)
                }
            }
            let ours = try? ExecRequest(fastJSON: bytes)
            let theirs = try? JSONDecoder().decode(ExecRequest.self, from: Data(bytes))
            if let ours, let theirs {
                bothAccepted += 1
                #expect(ours == theirs, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        // The fuzz must exercise acceptance too, not only rejection.
        #expect(bothAccepted > 20)
    }

    @Test("a key named twice in one object is refused, at any depth; the same key in two objects is not")
    func duplicateKeys() throws {
        let refused: [(json: String, key: String)] = [
            (#"{"cmd":["true"],"cmd":["false"]}"#, "cmd"),
            (#"{"a":1,"b":2,"a":1}"#, "a"),
            (#"{"env":{"K":"1","K":"2"}}"#, "K"),
            (#"[{"x":null,"x":null}]"#, "x"),
            (#"{"o":{"p":{"q":1,"q":{}}}}"#, "q"),
            (#"{"\u0061":1,"a":2}"#, "a"),
        ]
        func failure(_ json: String) -> FastJSON.Malformed? {
            do {
                _ = try FastJSON.parse(Array(json.utf8))
                return nil
            } catch { return error }
        }
        for (json, key) in refused {
            #expect(failure(json)?.duplicateKey == key, "\(json): \(String(describing: failure(json)))")
        }
        for json in [#"{"a":{"a":1},"b":{"a":2}}"#, #"[{"a":1},{"a":2}]"#, #"{"a":1,"A":2}"#] {
            #expect(throws: Never.self, "\(json)") { try FastJSON.parse(Array(json.utf8)) }
        }
        // The reason quotes the key cut short; the error keeps the whole key.
        let long = String(repeating: "k", count: 500)
        let cut = failure("{\"\(long)\":1,\"\(long)\":2}")
        #expect(cut?.duplicateKey == long)
        #expect(cut?.reason == "duplicate key \"" + String(repeating: "k", count: 64) + "…\"")
        // Malformed JSON is not mistaken for a repeated key.
        #expect(failure(#"{"a":1,"a""#)?.duplicateKey == nil)
        #expect(failure(#"{"a":1,"a""#) != nil)
    }
}

/// SplitMix64: reproducible test data.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(upTo n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func coin() -> Bool { next() & 1 == 0 }
    mutating func pick<T>(_ items: [T]) -> T { items[next(upTo: items.count)] }
    mutating func word() -> String { String((0..<(1 + next(upTo: 6))).map { _ in Character(UnicodeScalar(UInt8(97 + next(upTo: 26)))) }) }
}
