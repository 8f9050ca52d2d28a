import Testing

@testable import BhattiE2B

/// `MultipartSplitter` fed bodies cut anywhere: the same parts (or the same refusal) however the
/// bytes arrive, and a large part's bytes handed on before the part ends.
@Suite("multipart splitter")
struct MultipartSplitterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let body: [UInt8]
        let outcome: Result<[MultipartPart], MultipartError>
        var maxHeaderBytes = 16 << 10
        var maxParts = 10_000
    }

    static let file = #"Content-Disposition: form-data; name="file"; filename="a.txt""#
    static func body(_ parts: [(headers: String, data: [UInt8])], close: Bool = true) -> [UInt8] {
        MultipartFormDataTests.body(parts, close: close)
    }
    static func part(_ data: String, filename: String? = "a.txt") -> MultipartPart {
        MultipartPart(name: "file", filename: filename, data: Array(data.utf8))
    }

    static let binary: [UInt8] = [0, 13, 10, 45, 45, 98, 255]
    static let cases: [Case] = [
        Case(
            testDescription: "two parts, the second binary with CRLF and boundary-like bytes",
            body: body([(file, Array("alpha".utf8)), (#"Content-Disposition: form-data; name="file"; filename="b""#, binary)]),
            outcome: .success([part("alpha"), MultipartPart(name: "file", filename: "b", data: binary)])),
        Case(
            testDescription: "a part with no filename",
            body: body([(#"Content-Disposition: form-data; name="note""#, Array("hi".utf8))]),
            outcome: .success([MultipartPart(name: "note", filename: nil, data: Array("hi".utf8))])),
        Case(
            testDescription: "CRLF and most of a boundary inside the data",
            body: body([(file, Array("a\r\nb\r\n--b0un\r\n-\r\n--b0unx".utf8))]),
            outcome: .success([part("a\r\nb\r\n--b0un\r\n-\r\n--b0unx")])),
        Case(
            testDescription: "preamble and epilogue are dropped",
            body: Array("preamble\r\n".utf8) + body([(file, Array("x".utf8))]) + Array("epilogue --b0und\r\n".utf8),
            outcome: .success([part("x")])),
        Case(testDescription: "an empty part", body: body([(file, [])]), outcome: .success([part("")])),
        Case(testDescription: "no parts at all", body: Array("--b0und--\r\n".utf8), outcome: .success([])),
        Case(
            testDescription: "a missing closing delimiter",
            body: body([(file, Array("x".utf8))], close: false),
            outcome: .failure(.malformed("a part does not end with the boundary"))),
        Case(testDescription: "no opening boundary", body: Array("just bytes".utf8), outcome: .failure(.malformed("no opening boundary"))),
        Case(
            testDescription: "headers that never end",
            body: Array("--b0und\r\nContent-Disposition: form-data; name=\"f\"\r\n".utf8),
            outcome: .failure(.malformed("a part's headers do not end"))),
        Case(
            testDescription: "headers too large", body: body([(file + "\r\nX-Pad: " + String(repeating: "p", count: 100), [1])]),
            outcome: .failure(.headersTooLarge(limit: 64)), maxHeaderBytes: 64),
        Case(
            testDescription: "headers too large that never end",
            body: Array("--b0und\r\n".utf8) + Array(repeating: UInt8(ascii: "h"), count: 200),
            outcome: .failure(.headersTooLarge(limit: 64)), maxHeaderBytes: 64),
        Case(
            testDescription: "a boundary line that does not end in CRLF",
            body: Array("--b0undX\r\n".utf8), outcome: .failure(.malformed("a boundary line does not end in CRLF"))),
        Case(
            testDescription: "a body cut right after a boundary", body: Array("--b0und".utf8),
            outcome: .failure(.malformed("a boundary line does not end in CRLF"))),
        Case(
            testDescription: "a part without Content-Disposition", body: body([("Content-Type: text/plain", [1])]),
            outcome: .failure(.malformed("a part has no Content-Disposition"))),
        Case(
            testDescription: "more parts than allowed", body: body([(file, [1]), (file, [2]), (file, [3])]),
            outcome: .failure(.tooManyParts(limit: 2)), maxParts: 2),
    ]

    /// Feeds `body` in pieces of `size` bytes, then finishes; the parts seen.
    static func split(_ body: [UInt8], size: Int, _ c: Case) -> Result<[MultipartPart], MultipartError> {
        var splitter = MultipartSplitter(boundary: "b0und", maxHeaderBytes: c.maxHeaderBytes, maxParts: c.maxParts)
        var parts: [MultipartPart] = []
        do throws(MultipartError) {
            var offset = 0
            while offset < body.count {
                let end = offset + min(size, body.count - offset)
                for event in try splitter.feed(body[offset..<end]) {
                    switch event {
                    case .part(let name, let filename): parts.append(MultipartPart(name: name, filename: filename, data: []))
                    case .data(let bytes): parts[parts.count - 1].data += bytes
                    }
                }
                offset = end
            }
            try splitter.finish()
            return .success(parts)
        } catch {
            return .failure(error)
        }
    }

    @Test("the same parts or the same refusal, whatever size the chunks are", arguments: cases, [1, 2, 3, 7, 64, 1 << 20])
    func chunked(c: Case, size: Int) {
        #expect(Self.split(c.body, size: size, c) == c.outcome)
    }

    @Test("a body cut in two at every offset, the boundaries included, splits the same")
    func everyCut() {
        let c = Self.cases[0]
        for cut in 0...c.body.count {
            var splitter = MultipartSplitter(boundary: "b0und")
            var parts: [MultipartPart] = []
            do throws(MultipartError) {
                for piece in [c.body[..<cut], c.body[cut...]] {
                    for event in try splitter.feed(piece) {
                        switch event {
                        case .part(let name, let filename): parts.append(MultipartPart(name: name, filename: filename, data: []))
                        case .data(let bytes): parts[parts.count - 1].data += bytes
                        }
                    }
                }
                try splitter.finish()
            } catch {
                Issue.record("cut at \(cut): \(error)")
            }
            #expect(Result.success(parts) == c.outcome, "cut at \(cut)")
        }
    }

    @Test("a large part's bytes come out as they arrive, only a boundary's length held back")
    func streams() throws {
        var splitter = MultipartSplitter(boundary: "b0und")
        let head = Self.body([(Self.file, [])], close: false).dropLast(2)
        var handed = 0
        for event in try splitter.feed(head) {
            if case .data(let bytes) = event { handed += bytes.count }
        }
        let chunk = [UInt8](repeating: 0x41, count: 64 << 10)
        for _ in 0..<32 {
            for event in try splitter.feed(chunk) {
                if case .data(let bytes) = event { handed += bytes.count }
            }
        }
        let held = 32 * chunk.count - handed
        #expect(held >= 0 && held < "\r\n--b0und".utf8.count, "\(held) bytes held back")
        #expect(!splitter.isComplete)
    }

    @Test("after a refusal the splitter stays failed")
    func staysFailed() {
        var splitter = MultipartSplitter(boundary: "b0und")
        #expect(throws: MultipartError.malformed("a boundary line does not end in CRLF")) { try splitter.feed(Array("--b0undXY".utf8)) }
        #expect(throws: MultipartError.malformed("a boundary line does not end in CRLF")) {
            try splitter.feed(Array("\r\n".utf8))
        }
    }
}
