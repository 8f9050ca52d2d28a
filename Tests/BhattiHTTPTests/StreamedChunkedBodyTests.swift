import BhattiSystem
import Foundation
import Testing

@testable import BhattiHTTP

/// `body` in chunked coding, its chunks cycling through `sizes`, with a trailer field at the end.
private func chunkedCoding(_ body: [UInt8], sizes: [Int] = [1, 4093, 65536, 17, 300_000]) -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    var turn = 0
    while offset < body.count {
        let size = min(sizes[turn % sizes.count], body.count - offset)
        out += bytes(String(size, radix: 16) + (turn % 2 == 0 ? ";ext=1" : "") + "\r\n") + body[offset..<offset + size] + bytes("\r\n")
        offset += size
        turn += 1
    }
    return out + bytes("0\r\nX-Trailer: t\r\n\r\n")
}

private let head = bytes("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")

/// Chunked bodies streamed to the handler on a route opened to them (`HTTPLimits.streamsChunkedBody`).
@Suite(.timeLimit(.minutes(10))) struct StreamedChunkedBodyTests {
    @Test func parserDechunksAcrossFeedsAndKeepsThePipelinedRequest() throws {
        var parser = HTTPRequestParser(limits: streamingLimits(chunked: true))
        parser.feed(bytes("PUT /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"))
        guard case .streamedRequest(let request, let length) = try parser.next() else {
            Issue.record("expected a streamed request")
            return
        }
        #expect(request.path == "/f" && length == nil)
        var body: [UInt8] = []
        var ended = false
        for piece in ["", "lo\r", "\n0", "\r\n\r\nGET /next HTTP/1.1\r\n\r\n"] {
            parser.feed(bytes(piece))
            let taken = try parser.takeChunkedBody()
            #expect(!ended, "bytes after the end")
            body += taken.bytes
            ended = taken.ended
        }
        #expect(string(body) == "hello" && ended)
        guard case .request(let next) = try parser.next() else {
            Issue.record("the pipelined request was lost")
            return
        }
        #expect(next.path == "/next")
    }

    @Test func parserRefusesAChunkedBodyOverTheLimit() throws {
        var parser = HTTPRequestParser(limits: streamingLimits(chunked: true, maxBody: 10))
        parser.feed(bytes("PUT /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
        guard case .streamedRequest = try parser.next() else {
            Issue.record("expected a streamed request")
            return
        }
        parser.feed(bytes("8\r\n12345678\r\n8\r\n"))
        #expect(throws: HTTPParseError.bodyTooLarge(limit: 10)) { try parser.takeChunkedBody() }
    }

    @Test func handlerGetsTheWholeBodyAndTheConnectionServesTheNextRequest() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits(chunked: true))
        defer { server.shutdown() }
        let body = pattern(1_500_000)
        let (answer, next) = try await offPool { () -> (String, String) in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            // The next request follows the last chunk in the same write: it must survive the body's end.
            try client.fd.writeAll(
                bytes("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") + chunkedCoding(body)
                    + bytes("POST /after HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"))
            return (try client.readResponse().text, try client.readResponse().text)
        }
        #expect(answer == expected(body))
        #expect(next == "buffered 2")
    }

    @Test func slowHandlerHoldsTheQueueBounded() async throws {
        let seen = Shared(Seen())
        let queue = 256 << 10
        let (server, endpoint) = try unixServer(
            summingHandler(seen, delay: .milliseconds(1)), limits: streamingLimits(queue: queue, chunked: true))
        defer { server.shutdown() }
        let body = pattern(8 << 20)
        let answer = try await offPool { () -> String in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.fd.writeAll(bytes("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") + chunkedCoding(body, sizes: [65536]))
            return try client.readResponse().text
        }
        #expect(answer == expected(body))
        // At most one read's worth (64 KiB) lands past a full queue.
        #expect(seen.current.maxQueued > 0)
        #expect(seen.current.maxQueued < queue + 64 << 10, "\(seen.current.maxQueued)")
    }

    @Test func brokenChunkMidBodyFailsTheStreamAndClosesAfterTheAnswer() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits(chunked: true))
        defer { server.shutdown() }
        let (response, closed) = try await offPool { () -> (HTTPClientResponse, Bool) in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            // Every chunk but the last, then a size line that is not one.
            try client.fd.writeAll(head + chunkedCoding(pattern(1000)).dropLast(19))
            _ = eventually { seen.current.total >= 1 }
            try client.send("zz\r\nGET /smuggled HTTP/1.1\r\n\r\n")
            return (try client.readResponse(), client.isClosedByPeer())
        }
        #expect(response.status == 400 && response.headers["Connection"] == "close")
        #expect(seen.current.error == .invalid(.malformed("invalid chunk size")))
        #expect(closed)
        #expect(seen.current.handled == 1)
    }

    @Test func brokenChunkBeforeTheHandlerIsRefusedByTheServer() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits(chunked: true))
        defer { server.shutdown() }
        let response = try await offPool { () -> HTTPClientResponse in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.send("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            return try client.readResponse()
        }
        #expect(response.status == 400)
        #expect(seen.current.handled == 0)
    }

    @Test func clientLeavingMidBodyFailsTheStream() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits(chunked: true))
        defer { server.shutdown() }
        try await offPool {
            let client = try RawConnection(endpoint)
            try client.fd.writeAll(head + chunkedCoding(pattern(40_000)).dropLast(5))
            _ = eventually { seen.current.total >= 40_000 }
            client.close()
        }
        #expect(try await offPool { eventually { seen.current.error != nil } })
        #expect(seen.current.error == .disconnected)
    }
}
