import Testing

@testable import BhattiE2B

/// `POST /files` bodies as httpx writes them (the e2b SDK's multipart uploads), and broken ones.
@Suite("multipart/form-data")
struct MultipartFormDataTests {
    static func body(_ parts: [(headers: String, data: [UInt8])], boundary: String = "b0und", close: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            out += Array("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8) + part.data + Array("\r\n".utf8)
        }
        if close { out += Array("--\(boundary)--\r\n".utf8) }
        return out
    }

    @Test(
        "the boundary of a content type: plain or quoted; nil for another type or none",
        arguments: [
            ("multipart/form-data; boundary=abc", "abc"), ("Multipart/Form-Data;boundary=\"a b\"", "a b"),
            ("multipart/form-data", nil), ("application/octet-stream", nil), ("multipart/form-data; boundary=", nil),
        ] as [(String, String?)])
    func boundary(contentType: String, expected: String?) {
        #expect(MultipartFormData.boundary(of: contentType) == expected)
    }

    @Test("parts keep their names, file names and bytes, CRLF and boundary-like bytes inside the data included")
    func parts() throws {
        let binary: [UInt8] = [0, 13, 10, 45, 45, 98, 255]
        let body = Self.body([
            (#"Content-Disposition: form-data; name="file"; filename="/tmp/a.txt""# + "\r\nContent-Type: text/plain", Array("alpha".utf8)),
            (#"content-disposition: form-data; name="file"; filename="b.bin""#, binary),
        ])
        let parts = try MultipartFormData.parse(body, boundary: "b0und")
        #expect(
            parts == [
                MultipartPart(name: "file", filename: "/tmp/a.txt", data: Array("alpha".utf8)),
                MultipartPart(name: "file", filename: "b.bin", data: binary),
            ])
    }

    @Test(
        "a body without its closing boundary, a part without a name or a disposition, or no boundary at all is refused",
        arguments: [
            (Self.body([(#"Content-Disposition: form-data; name="f""#, [1])], close: false), "a part does not end with the boundary"),
            (Self.body([(#"Content-Disposition: form-data; filename="x""#, [1])]), "a part's Content-Disposition has no name"),
            (Self.body([("Content-Type: text/plain", [1])]), "a part has no Content-Disposition"),
            (Array("just bytes".utf8), "no opening boundary"),
        ] as [([UInt8], String)])
    func refused(body: [UInt8], why: String) {
        #expect(throws: MultipartError.malformed(why)) { try MultipartFormData.parse(body, boundary: "b0und") }
    }
}
