import BhattiJSON
import BhattiWire
import Foundation
import Testing

/// `FastJSON.Value` as the general JSON value (QMP's commands and replies).
@Suite("FastJSON.Value")
struct JSONValueTests {
    @Test("a value built from literals encodes to JSON that parses back to the same value")
    func roundTrip() throws {
        let value: FastJSON.Value = [
            "execute": "migrate-set-capabilities", "id": 7,
            "arguments": ["capabilities": [["capability": "x-ignore-shared", "state": true]], "size": .int(1 << 40)],
            "none": .null, "ratio": .double(0.25), "text": "a \"quoted\"\nline",
        ]
        let bytes = value.encoded()
        #expect(try FastJSON.parse(bytes) == value)
        // Foundation reads it too.
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect(object?["id"] as? Int == 7)
        #expect(object?["text"] as? String == "a \"quoted\"\nline")
    }

    @Test("keys are written sorted and compact, so equal values give equal bytes")
    func canonical() {
        let value: FastJSON.Value = ["b": 1, "a": [false, "x"]]
        #expect(String(decoding: value.encoded(), as: UTF8.self) == #"{"a":[false,"x"],"b":1}"#)
    }

    @Test("members and strings are read by subscript, absent ones are nil")
    func access() throws {
        let reply = try FastJSON.parse(Array(#"{"return": {"status": "running", "running": true}, "id": 3}"#.utf8))
        #expect(reply["return"]?["status"]?.stringValue == "running")
        #expect(reply["return"]?["running"]?.boolValue == true)
        #expect(reply["id"] == .int(3))
        #expect(reply["error"] == nil)
        #expect(reply["id"]?.stringValue == nil)
    }
}
