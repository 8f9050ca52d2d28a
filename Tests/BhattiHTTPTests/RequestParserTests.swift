import Testing

@testable import BhattiHTTP

/// Feeds `input` in pieces of `step` bytes and collects every request.
private func parseAll(_ input: String, step: Int = .max, limits: HTTPLimits = HTTPLimits()) throws -> [HTTPRequest] {
    var parser = HTTPRequestParser(limits: limits)
    var requests: [HTTPRequest] = []
    let all = bytes(input)
    var offset = 0
    repeat {
        let end = step >= all.count - offset ? all.count : offset + step
        parser.feed(all[offset..<end])
        offset = end
        while let event = try parser.next() {
            if case .request(let request) = event { requests.append(request) }
        }
    } while offset < all.count
    return requests
}

private func parseError(_ input: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    do {
        _ = try parseAll(input, limits: limits)
        return nil
    } catch let error as HTTPParseError {
        return error
    } catch {
        return nil
    }
}

@Suite struct RequestParserTests {
    @Test func simpleGet() throws {
        let requests = try parseAll("GET /a/b%20c?x=1&y=two+words&x=2&flag HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n")
        let request = try #require(requests.first)
        #expect(requests.count == 1)
        #expect(request.method == "GET")
        #expect(request.target == "/a/b%20c?x=1&y=two+words&x=2&flag")
        #expect(request.path == "/a/b c")
        #expect(request.query["x"] == ["1", "2"])
        #expect(request.queryValue("y") == "two words")
        #expect(request.queryValue("flag") == "")
        #expect(request.headers["host"] == "localhost")
        #expect(request.headers["ACCEPT"] == "*/*")
        #expect(request.version == .http1_1)
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
    }

    @Test func postWithContentLength() throws {
        let requests = try parseAll(
            "POST /v1/sandboxes HTTP/1.1\r\nContent-Length: 13\r\nContent-Type: application/json\r\n\r\n{\"name\":\"a\"}\n")
        #expect(requests.count == 1)
        #expect(requests.first?.body == bytes("{\"name\":\"a\"}\n"))
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let input =
            "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\nA \r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n"
        let requests = try parseAll(input)
        #expect(requests.count == 1)
        #expect(requests.first.map { string($0.body) } == "hello world, chunked!")
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let input = "GET /one HTTP/1.1\r\n\r\nPOST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\n\r\n"
        let requests = try parseAll(input)
        #expect(requests.map(\.path) == ["/one", "/two", "/three"])
        #expect(requests[1].body == bytes("abc"))
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func splitAcrossReadsMatchesOneRead(step: Int) throws {
        let input =
            "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPUT /b?k=v HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.0\r\n\r\n"
        let whole = try parseAll(input)
        let pieces = try parseAll(input, step: step)
        #expect(whole.count == 3)
        #expect(pieces.map(\.path) == whole.map(\.path))
        #expect(pieces.map(\.body) == whole.map(\.body))
        #expect(pieces.map(\.method) == ["POST", "PUT", "GET"])
        #expect(pieces[2].version == .http1_0)
    }

    @Test func incompleteInputWaitsForMore() throws {
        var parser = HTTPRequestParser()
        parser.feed(bytes("POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"))
        #expect(try parser.next() == nil)
        #expect(parser.isMidRequest)
        parser.feed(bytes("cd"))
        guard case .request(let request) = try parser.next() else {
            Issue.record("expected a request")
            return
        }
        #expect(request.body == bytes("abcd"))
        #expect(!parser.isMidRequest)
    }

    @Test func leadingEmptyLinesAndBareLineFeedsAreTolerated() throws {
        let requests = try parseAll("\r\n\nGET /lf HTTP/1.1\nHost: h\n\n")
        #expect(requests.map(\.path) == ["/lf"])
        #expect(requests.first?.headers["Host"] == "h")
    }

    @Test func expectContinueIsReportedBeforeTheBody() throws {
        var parser = HTTPRequestParser()
        parser.feed(bytes("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
        guard case .expectContinue = try parser.next() else {
            Issue.record("expected expectContinue")
            return
        }
        #expect(try parser.next() == nil)
        parser.feed(bytes("ok"))
        guard case .request(let request) = try parser.next() else {
            Issue.record("expected a request")
            return
        }
        #expect(request.body == bytes("ok"))
    }

    @Test func expectContinueIsSkippedWhenTheBodyAlreadyArrived() throws {
        var parser = HTTPRequestParser()
        parser.feed(bytes("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"))
        guard case .request = try parser.next() else {
            Issue.record("expected the request directly")
            return
        }
    }

    @Test func connectionSemantics() throws {
        let requests = try parseAll(
            "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /c HTTP/1.1\r\nConnection: upgrade, close\r\n\r\nGET /d HTTP/1.1\r\n\r\n"
        )
        #expect(requests.map(\.keepAlive) == [false, true, false, true])
    }

    @Test func absoluteFormAndAsteriskTargets() throws {
        let requests = try parseAll("GET http://localhost:8080/v1/x?a=b HTTP/1.1\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n")
        #expect(requests.map(\.path) == ["/v1/x", "*"])
        #expect(requests.first?.queryValue("a") == "b")
    }

    @Test func headerBytesLimit() {
        let limits = HTTPLimits(maxHeaderBytes: 128)
        let long = String(repeating: "a", count: 200)
        #expect(parseError("GET / HTTP/1.1\r\nX-Long: \(long)\r\n\r\n", limits: limits) == .headersTooLarge)
        // Over the limit before the head even ends: no need to wait for the rest.
        #expect(parseError("GET / HTTP/1.1\r\nX-Long: \(long)", limits: limits) == .headersTooLarge)
        #expect(parseError("GET /\(long) HTTP/1.1\r\n\r\n", limits: limits) == .headersTooLarge)
        #expect(HTTPParseError.headersTooLarge.status == 431)
    }

    @Test func headerCountLimit() {
        let limits = HTTPLimits(maxHeaderCount: 3)
        let fields = (0..<4).map { "X-\($0): v\r\n" }.joined()
        #expect(parseError("GET / HTTP/1.1\r\n\(fields)\r\n", limits: limits) == .tooManyHeaders)
        #expect(parseError("GET / HTTP/1.1\r\n\((0..<3).map { "X-\($0): v\r\n" }.joined())\r\n", limits: limits) == nil)
    }

    @Test func bodyLimits() {
        let limits = HTTPLimits(maxBodyBytes: 4)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", limits: limits) == .bodyTooLarge(limit: 4))
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n") == .bodyTooLarge(limit: 1 << 20))
        #expect(
            parseError("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n", limits: limits)
                == .bodyTooLarge(limit: 4))
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", limits: limits) == nil)
        #expect(HTTPParseError.bodyTooLarge(limit: 4).status == 413)
        #expect(HTTPParseError.bodyTooLarge(limit: 4).code == "too_large")
    }

    @Test func routesCanRaiseTheBodyLimit() {
        let limits = HTTPLimits(maxBodyBytes: 4) { method, path in method == "PUT" && path.hasPrefix("/files/") ? 100 : nil }
        #expect(
            parseError("PUT /files/a HTTP/1.1\r\nContent-Length: 50\r\n\r\n\(String(repeating: "x", count: 50))", limits: limits) == nil)
        #expect(parseError("PUT /other HTTP/1.1\r\nContent-Length: 50\r\n\r\n", limits: limits) == .bodyTooLarge(limit: 4))
    }

    @Test(arguments: [
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n",
        "GET /%zz HTTP/1.1\r\n\r\n",
        "GET /%00 HTTP/1.1\r\n\r\n",
        "GET / HTTP/x\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nName : v\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\u{01}c\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    ])
    func malformedRequestsAreRejected(input: String) {
        guard case .malformed = parseError(input) else {
            Issue.record("expected malformed for \(input.debugDescription), got \(String(describing: parseError(input)))")
            return
        }
        #expect(parseError(input)?.status == 400)
    }

    @Test func unsupportedVersionAndCoding() {
        #expect(parseError("GET / HTTP/2.0\r\n\r\n") == .unsupportedVersion("HTTP/2.0"))
        #expect(parseError("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == .unsupportedTransferEncoding("gzip"))
    }

    @Test func aFailedParserStaysFailed() {
        var parser = HTTPRequestParser()
        parser.feed(bytes("BROKEN\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try parser.next() }
        parser.feed(bytes("GET / HTTP/1.1\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try parser.next() }
    }
}
