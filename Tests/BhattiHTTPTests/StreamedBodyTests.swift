import BhattiSystem
import Foundation
import Testing

@testable import BhattiHTTP

/// `count` bytes of a pattern with a prime period, so a dropped or repeated block changes the sum.
func pattern(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 % 251) }
}

/// Order-sensitive checksum (Fletcher-style), cheap enough for megabytes in a debug build.
func checksum(_ bytes: [UInt8], into sums: inout (Int, Int)) {
    for byte in bytes {
        sums.0 = (sums.0 + Int(byte)) % 65521
        sums.1 = (sums.1 + sums.0) % 65521
    }
}

/// Streams `PUT` bodies (chunked ones too when `chunked`); everything else is buffered as before.
func streamingLimits(idleMilliseconds: Int = 120_000, queue: Int = 1 << 20, chunked: Bool = false, maxBody: Int = 64 << 20)
    -> HTTPLimits
{
    var limits = HTTPLimits(
        maxBodyBytes: maxBody, idleTimeoutMilliseconds: idleMilliseconds,
        streamsBody: { method, _ in method == "PUT" }, maxQueuedBodyBytes: queue)
    if chunked { limits.streamsChunkedBody = { method, _ in method == "PUT" } }
    return limits
}

/// What a streaming handler saw.
struct Seen: Sendable {
    var started = false
    var firstChunk = 0
    var total = 0
    var error: RequestBodyError?
    var maxQueued = 0
    var handled = 0
}

/// Reads the whole stream (pausing `delay` per chunk) and answers `count sum`; buffered requests echo.
func summingHandler(_ seen: Shared<Seen>, delay: Duration = .zero) -> ClosureHandler {
    ClosureHandler { request in
        seen.update { $0.handled += 1 }
        guard let stream = request.bodyStream else { return .text("buffered \(request.body.count)") }
        seen.update { $0.started = true }
        var sums = (1, 0)
        var total = 0
        do {
            while let chunk = try await stream.next() {
                if total == 0 { seen.update { $0.firstChunk = chunk.count } }
                total += chunk.count
                seen.update { $0.total = total }
                checksum(chunk, into: &sums)
                if delay > .zero { try await Task.sleep(for: delay) }
            }
        } catch {
            seen.update { $0.error = error as? RequestBodyError }
            return .text(status: 400, "broken")
        }
        seen.update { $0.maxQueued = stream.maxQueuedBytes }
        return .text("\(total) \(sums.0) \(sums.1)")
    }
}

func expected(_ body: [UInt8]) -> String {
    var sums = (1, 0)
    checksum(body, into: &sums)
    return "\(body.count) \(sums.0) \(sums.1)"
}

/// Request bodies streamed to the handler as they arrive (`HTTPLimits.streamsBody`).
@Suite(.timeLimit(.minutes(10))) struct StreamedBodyTests {
    @Test func parserHandsOverTheHeadAndWhatIsBuffered() throws {
        var parser = HTTPRequestParser(limits: streamingLimits())
        parser.feed(bytes("PUT /f HTTP/1.1\r\nContent-Length: 10\r\n\r\nabcd"))
        guard case .streamedRequest(let request, let length) = try parser.next() else {
            Issue.record("expected a streamed request")
            return
        }
        #expect(request.path == "/f" && length == 10 && request.body.isEmpty)
        #expect(parser.takeBody(upTo: length ?? 0) == bytes("abcd"))
        #expect(try parser.next() == nil)
        // A chunked body cannot stream on a route not opened to one (its size is unknown up front): 400.
        var chunked = HTTPRequestParser(limits: streamingLimits())
        chunked.feed(bytes("PUT /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try chunked.next() }
    }

    @Test func handlerStartsBeforeTheBodyIsComplete() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        let body = pattern(600_000)
        let (answer, midway, next) = try await offPool { () -> (String, Seen, String) in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.fd.writeAll(bytes("PUT /up HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n") + body[..<300_000])
            _ = eventually { seen.current.total >= 1 }
            let midway = seen.current
            try client.fd.writeAll(Array(body[300_000...]))
            let answer = try client.readResponse().text
            // The body was read to its end, so the connection serves the next request.
            try client.send("POST /after HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
            return (answer, midway, try client.readResponse().text)
        }
        #expect(midway.started && midway.firstChunk > 0 && midway.total < body.count)
        #expect(answer == expected(body))
        #expect(next == "buffered 2")
    }

    @Test func expectContinueIsAnsweredBeforeTheHandlerStreams() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        let body = pattern(5000)
        let (interim, answer) = try await offPool { () -> (String, String) in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.send("PUT /up HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
            let interim = string(try client.read { string($0).contains("\r\n\r\n") })
            try client.fd.writeAll(body)
            return (interim, try client.readResponse().text)
        }
        #expect(interim.hasPrefix("HTTP/1.1 100"))
        #expect(answer == expected(body))
    }

    @Test func slowHandlerHoldsTheQueueBounded() async throws {
        let seen = Shared(Seen())
        let queue = 256 << 10
        let (server, endpoint) = try unixServer(
            summingHandler(seen, delay: .milliseconds(1)), limits: streamingLimits(queue: queue))
        defer { server.shutdown() }
        let body = pattern(8 << 20)
        let answer = try await offPool { () -> String in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.fd.writeAll(bytes("PUT /up HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n") + body)
            return try client.readResponse().text
        }
        #expect(answer == expected(body))
        // The socket is read at most one 64 KiB piece past a full queue.
        #expect(seen.current.maxQueued > 0)
        #expect(seen.current.maxQueued < queue + 64 << 10, "\(seen.current.maxQueued)")
    }

    @Test func clientLeavingMidBodyFailsTheStream() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        try await offPool {
            let client = try RawConnection(endpoint)
            try client.fd.writeAll(bytes("PUT /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n") + pattern(40_000))
            _ = eventually { seen.current.total >= 40_000 }
            client.close()
        }
        #expect(try await offPool { eventually { seen.current.error != nil } })
        #expect(seen.current.error == .disconnected)
    }

    @Test func idleClientMidBodyTimesOut() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits(idleMilliseconds: 300))
        defer { server.shutdown() }
        let closed = try await offPool { () -> Bool in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.fd.writeAll(bytes("PUT /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n") + pattern(1000))
            return client.isClosedByPeer()
        }
        #expect(closed)
        #expect(try await offPool { eventually { seen.current.error != nil } })
        #expect(seen.current.error == .timedOut)
    }

    @Test func earlyAnswerClosesWithoutParsingTheRestAsARequest() async throws {
        let handled = Shared(0)
        let handler = ClosureHandler { _ in
            handled.update { $0 += 1 }
            return .text(status: 403, "no")
        }
        let (server, endpoint) = try unixServer(handler, limits: streamingLimits())
        defer { server.shutdown() }
        let smuggled = bytes("GET /smuggled HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        let (response, rest) = try await offPool { () -> (HTTPClientResponse, [UInt8]) in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.send("PUT /up HTTP/1.1\r\nContent-Length: \(smuggled.count * 10)\r\n\r\n")
            let response = try client.readResponse()
            // The unread body looks like requests; none of them may be served.
            try client.fd.writeAll(Array(repeating: smuggled, count: 10).flatMap { $0 })
            return (response, try client.read())
        }
        #expect(response.status == 403)
        #expect(response.headers["Connection"] == "close")
        #expect(rest.isEmpty, "\(string(rest))")
        #expect(handled.current == 1)
    }

    @Test func otherRoutesStillBuffer() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        let answer = try await offPool { () -> String in
            let client = try RawConnection(endpoint)
            defer { client.close() }
            try client.send("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
            return try client.readResponse().text
        }
        #expect(answer == "buffered 5")
        #expect(seen.current.started == false)
    }

    @Test func clientStreamsABodyPulledPieceByPiece() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        let body = pattern(600_000)
        let (answer, pulls) = try await offPool { () -> (String, Int) in
            var offset = 0
            var pulls = 0
            let response = try HTTPClient(endpoint: endpoint).send(method: "PUT", path: "/up", length: body.count) {
                guard offset < body.count else { return nil }
                pulls += 1
                let piece = Array(body[offset..<min(offset + 7000, body.count)])
                offset += piece.count
                return piece
            }
            return (response.text, pulls)
        }
        #expect(answer == expected(body))
        #expect(pulls == (body.count + 6999) / 7000)
    }

    @Test func clientRefusesABodyShortOrLongerThanItsLength() async throws {
        let seen = Shared(Seen())
        let (server, endpoint) = try unixServer(summingHandler(seen), limits: streamingLimits())
        defer { server.shutdown() }
        for (length, pieces) in [(10, [bytes("abcd")]), (3, [bytes("abcd")])] {
            let thrown = try await offPool { () -> HTTPClientError? in
                var left = pieces
                do {
                    _ = try HTTPClient(endpoint: endpoint).send(method: "PUT", path: "/up", length: length) { left.popLast() }
                    return nil
                } catch { return error as? HTTPClientError }
            }
            guard case .invalidRequest = thrown else {
                Issue.record("length \(length): \(String(describing: thrown))")
                continue
            }
        }
    }
}
