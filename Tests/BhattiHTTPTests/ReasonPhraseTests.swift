import Testing

@testable import BhattiHTTP

@Suite("Reason phrases")
struct ReasonPhraseTests {
    @Test(
        "every status the daemon or its proxy sends has its standard reason phrase, never `Status N`",
        arguments: [
            200, 201, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 409, 413, 416, 429, 431, 500, 501, 502, 503, 504,
            505, 507,
        ])
    func standard(status: Int) {
        #expect(!reasonPhrase(status).hasPrefix("Status"))
        #expect(!reasonPhrase(status).isEmpty)
    }

    @Test("the 308 status line reads Permanent Redirect; an unregistered code gets its class's name")
    func statusLine() {
        let head = String(
            decoding: HTTPResponse.serialize(status: 308, headers: ["Location": "/a/"], body: [], keepAlive: false), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 308 Permanent Redirect\r\n"))
        #expect(reasonPhrase(599) == "Server Error" && reasonPhrase(499) == "Client Error")
    }
}
