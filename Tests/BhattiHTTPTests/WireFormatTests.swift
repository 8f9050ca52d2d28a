import Testing

@testable import BhattiHTTP

@Suite struct WireFormatTests {
    @Test func bytesResponseGolden() {
        let wire = HTTPResponse.serialize(
            status: 200, headers: ["Content-Type": "application/json"], body: bytes("{}"), keepAlive: true)
        #expect(
            string(wire) == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}")
    }

    @Test func serverOwnsTheFramingHeaders() {
        let headers: HTTPHeaders = [("Content-Length", "99"), ("X-A", "1"), ("transfer-encoding", "gzip"), ("Connection", "keep-alive")]
        let wire = HTTPResponse.serialize(status: 404, headers: headers, body: bytes("no"), keepAlive: false)
        #expect(string(wire) == "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
    }

    @Test func headerValuesCannotSplitTheResponse() {
        let wire = HTTPResponse.serialize(status: 200, headers: ["X-Evil": "a\r\nSet-Cookie: b"], body: [], keepAlive: true)
        #expect(string(wire) == "HTTP/1.1 200 OK\r\nX-Evil: a Set-Cookie: b\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func noContentHasNoLength() {
        let wire = HTTPResponse.serialize(status: 204, headers: [], body: bytes("ignored"), keepAlive: true)
        #expect(string(wire) == "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func headResponsesKeepTheLengthButNotTheBody() {
        let wire = HTTPResponse.serialize(status: 200, headers: [], body: bytes("hello"), keepAlive: true, headOnly: true)
        #expect(string(wire) == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func chunkedHeadAndFrames() {
        let head = HTTPResponse.serializeHead(
            status: 200, headers: ["Content-Type": "application/x-ndjson"], framing: .chunked, keepAlive: true)
        #expect(
            string(head)
                == "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
        #expect(string(chunkFrame(bytes("hello"))) == "5\r\nhello\r\n")
        #expect(string(chunkFrame(bytes(String(repeating: "z", count: 26)))) == "1a\r\n\(String(repeating: "z", count: 26))\r\n")
        #expect(string(lastChunk) == "0\r\n\r\n")
        let untilClose = HTTPResponse.serializeHead(status: 200, headers: [], framing: .untilClose, keepAlive: false)
        #expect(string(untilClose) == "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    }

    @Test func errorResponsesCarryTheJSONEnvelope() {
        let wire = HTTPResponse.serializedError(.bodyTooLarge(limit: 10))
        let body = #"{"error":{"code":"too_large","message":"request body is larger than 10 bytes"}}"#
        #expect(
            string(wire)
                == "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
    }

    @Test func jsonConvenience() {
        let response = HTTPResponse.json(status: 201, bytes: bytes("{}"))
        #expect(response.status == 201)
        #expect(response.headers["content-type"] == "application/json")
        guard case .bytes(let body) = response.body else {
            Issue.record("expected bytes")
            return
        }
        #expect(body == bytes("{}"))
    }

    @Test func requestGolden() throws {
        let wire = try serializeRequest(method: "POST", path: "/v1/x?y=1", headers: ["Accept": "application/json"], body: bytes("{}"))
        #expect(
            string(wire)
                == "POST /v1/x?y=1 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        let get = try serializeRequest(method: "GET", path: "/", headers: [], body: [])
        #expect(string(get) == "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    }

    @Test func requestsThatWouldBreakTheMessageAreRefused() {
        #expect(throws: HTTPClientError.self) { try serializeRequest(method: "G T", path: "/", headers: [], body: []) }
        #expect(throws: HTTPClientError.self) { try serializeRequest(method: "GET", path: "/a b", headers: [], body: []) }
        #expect(throws: HTTPClientError.self) { try serializeRequest(method: "GET", path: "nopath", headers: [], body: []) }
        #expect(throws: HTTPClientError.self) { try serializeRequest(method: "GET", path: "/", headers: ["X": "a\r\nB: c"], body: []) }
    }
}

/// Runs the client-side parser over `input` in `step`-byte pieces.
private func responseEvents(_ input: String, method: String = "GET", step: Int = .max, eof: Bool = false) throws -> [HTTPResponseParser
    .Event]
{
    var parser = HTTPResponseParser(requestMethod: method)
    var events: [HTTPResponseParser.Event] = []
    let all = bytes(input)
    var offset = 0
    repeat {
        let end = step >= all.count - offset ? all.count : offset + step
        parser.feed(all[offset..<end])
        offset = end
        while let event = try parser.next() { events.append(event) }
    } while offset < all.count
    if eof && parser.bodyRunsUntilClose { events.append(.end) }
    return events
}

/// Joins body events, keeping head and end.
private func summary(_ events: [HTTPResponseParser.Event]) -> (status: Int?, body: String, ended: Bool) {
    var status: Int?
    var body: [UInt8] = []
    var ended = false
    for event in events {
        switch event {
        case .head(let s, _): status = s
        case .body(let piece): body += piece
        case .end: ended = true
        }
    }
    return (status, string(body), ended)
}

@Suite struct ResponseParserTests {
    @Test(arguments: [1, 5, 1000])
    func contentLengthAndChunkedBodies(step: Int) throws {
        let fixed = summary(try responseEvents("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step: step))
        #expect(fixed.status == 200 && fixed.body == "hello" && fixed.ended)
        let chunked = summary(
            try responseEvents(
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n", step: step))
        #expect(chunked.status == 201 && chunked.body == "abcd" && chunked.ended)
    }

    @Test func interimResponsesAreSkipped() throws {
        let events = try responseEvents("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(events == [.head(status: 200, headers: ["Content-Length": "0"]), .end])
    }

    @Test func bodilessAnswers() throws {
        #expect(summary(try responseEvents("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD")).ended)
        #expect(summary(try responseEvents("HTTP/1.1 204 No Content\r\n\r\n")).ended)
        #expect(summary(try responseEvents("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")).status == 200)
    }

    @Test func bodyUntilClose() throws {
        let result = summary(try responseEvents("HTTP/1.0 200 OK\r\n\r\nstreamed", eof: true))
        #expect(result.body == "streamed" && result.ended)
    }

    @Test func malformedStatusLines() {
        #expect(throws: HTTPParseError.self) { try responseEvents("HTTP/1.1 2000 OK\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try responseEvents("SPDY/3 200 OK\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try responseEvents("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") }
    }
}
