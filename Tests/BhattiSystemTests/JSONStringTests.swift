import BhattiSystem
import Foundation
import Testing

/// The one JSON string escaper: what it writes must read back, through a real parser, as the text.
@Suite("JSONString")
struct JSONStringTests {
    @Test("quotes, backslashes and control characters are escaped; slashes and non-ASCII are not")
    func escapes() {
        #expect(jsonEscaped("a\"b\\c\nd\u{01}") == #"a\"b\\c\nd\u0001"#)
        #expect(jsonEscaped("\r\t\u{1f}") == #"\r\t\u001f"#)
        #expect(jsonEscaped("a/b é 🔥") == "a/b é 🔥")
        var out: [UInt8] = []
        JSONString.append("x\"", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""x\"""#)
    }

    @Test("every control character and a mix of scripts round-trip through JSONSerialization")
    func roundTrips() throws {
        let text = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\"\\/ ünï 語 🔥\u{7f}"
        var out: [UInt8] = Array("[".utf8)
        JSONString.append(text, to: &out)
        out += Array("]".utf8)
        let parsed = try JSONSerialization.jsonObject(with: Data(out)) as? [String]
        #expect(parsed == [text])
    }
}
