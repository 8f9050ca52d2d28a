import Testing

@testable import BhattiHTTP

@Suite struct HeadersTests {
    @Test func caseInsensitiveLookupKeepsOrderAndRepeats() {
        var headers: HTTPHeaders = [("Set-Cookie", "a"), ("Content-Type", "text/plain"), ("set-cookie", "b")]
        #expect(headers["SET-COOKIE"] == "a")
        #expect(headers.values(for: "set-cookie") == ["a", "b"])
        #expect(headers.contains("content-type"))
        headers.add("X-New", "1")
        #expect(headers.map(\.name) == ["Set-Cookie", "Content-Type", "set-cookie", "X-New"])
        headers.set("Set-Cookie", "c")
        #expect(headers.values(for: "Set-Cookie") == ["c"])
        #expect(headers.map(\.name) == ["Set-Cookie", "Content-Type", "X-New"])
        headers.remove("CONTENT-TYPE")
        #expect(headers["Content-Type"] == nil)
        headers["x-new"] = nil
        #expect(headers.count == 1)
        headers["Accept"] = "*/*"
        #expect(headers["accept"] == "*/*")
    }

    @Test func tokensSplitCommaLists() {
        let headers: HTTPHeaders = [("Connection", "Keep-Alive, Upgrade"), ("connection", " close ")]
        #expect(headers.tokens(for: "Connection") == ["keep-alive", "upgrade", "close"])
    }

    @Test func dictionaryLiteralAndEquality() {
        let a: HTTPHeaders = ["A": "1"]
        let b = HTTPHeaders([("A", "1")])
        #expect(a == b)
        #expect(a != ["a": "1"])
    }
}

@Suite struct EndpointTests {
    @Test(arguments: [
        ("unix:///var/run/bhatti/api.sock", HTTPEndpoint.unix(path: "/var/run/bhatti/api.sock")),
        ("unix:///tmp/api.sock/", .unix(path: "/tmp/api.sock")),
        ("http://127.0.0.1:8080", .tcp(host: "127.0.0.1", port: 8080)),
        ("http://127.0.0.1:8080/", .tcp(host: "127.0.0.1", port: 8080)),
        ("http://localhost:8080", .tcp(host: "127.0.0.1", port: 8080)),
        ("HTTP://LocalHost:9/", .tcp(host: "127.0.0.1", port: 9)),
        ("http://[::1]:8080", .tcp(host: "::1", port: 8080)),
        ("http://127.0.0.1", .tcp(host: "127.0.0.1", port: 80)),
    ])
    func parsesSupportedURLs(url: String, expected: HTTPEndpoint) {
        #expect(HTTPEndpoint(url: url) == expected)
        #expect(HTTPEndpoint(url: expected.url) == expected)
    }

    @Test(arguments: [
        "", "unix://", "unix://relative.sock", "https://127.0.0.1:8080", "http://example.com:80",
        "http://127.0.0.1:8080/api", "http://127.0.0.1:0", "http://127.0.0.1:99999", "http://127.0.0.1:", "ftp://x",
        "http://user@127.0.0.1:80", "http://[::1", "/tmp/api.sock",
    ])
    func rejectsEverythingElse(url: String) {
        #expect(HTTPEndpoint(url: url) == nil)
    }
}

@Suite struct RequestTargetTests {
    @Test func decoding() throws {
        let target = try #require(RequestTarget("/files/a%2Fb%20c+d?path=%2Ftmp%2Fx+y&empty=&n"))
        #expect(target.path == "/files/a/b c+d")
        #expect(target.query == ["path": ["/tmp/x y"], "empty": [""], "n": [""]])
        #expect(RequestTarget("/caf%C3%A9")?.path == "/café")
        #expect(RequestTarget("/%FF") == nil)
        #expect(RequestTarget("/a%2") == nil)
    }

    @Test func publicInitFallsBackToTheRawTarget() {
        let request = HTTPRequest(method: "GET", target: "/bad%zz?x=1")
        #expect(request.path == "/bad%zz")
        #expect(request.query.isEmpty)
        #expect(HTTPRequest(method: "GET", target: "/ok?x=1").queryValue("x") == "1")
    }
}
