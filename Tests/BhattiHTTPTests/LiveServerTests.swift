import BhattiSystem
import Testing

@testable import BhattiHTTP

@Suite struct LiveServerTests {
    @Test func roundTripOverUnixSocket() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let response = try await offPool {
            try HTTPClient(endpoint: endpoint).send(method: "POST", path: "/echo?b=2&a=1", body: bytes("hi there"))
        }
        #expect(response.status == 200)
        #expect(response.text == "POST /echo a=1&b=2 hi there")
        #expect(response.headers["x-echo"] == "yes")
        #expect(response.headers["Content-Length"] == "27")
    }

    @Test func roundTripOverTCP() async throws {
        let (server, endpoint) = try tcpServer()
        defer { server.shutdown() }
        let response = try await offPool { try HTTPClient(endpoint: endpoint).send(method: "GET", path: "/a%20b?q=x+y") }
        #expect(response.status == 200)
        #expect(response.text == "GET /a b q=x y ")
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let result = try await offPool { () -> ([String], Int, Bool) in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            var bodies: [String] = []
            for i in 0..<3 {
                try connection.send("POST /n/\(i) HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\(i)")
                let response = try connection.readResponse()
                #expect(response.headers["Connection"] == "keep-alive")
                bodies.append(response.text)
            }
            let open = server.connectionCount
            try connection.send("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n")
            bodies.append(try connection.readResponse().text)
            return (bodies, open, connection.isClosedByPeer())
        }
        #expect(result.0 == ["POST /n/0  0", "POST /n/1  1", "POST /n/2  2", "GET /last  "])
        #expect(result.1 == 1)
        #expect(result.2)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let (server, endpoint) = try tcpServer()
        defer { server.shutdown() }
        let bodies = try await offPool { () -> [String] in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\n\r\n")
            return try (0..<3).map { _ in try connection.readResponse().text }
        }
        #expect(bodies == ["GET /1  ", "POST /2  ok", "GET /3  "])
    }

    @Test func http10ClosesAfterTheResponse() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let (response, closed) = try await offPool { () -> (HTTPClientResponse, Bool) in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("GET /old HTTP/1.0\r\n\r\n")
            return (try connection.readResponse(), connection.isClosedByPeer())
        }
        #expect(response.headers["Connection"] == "close")
        #expect(response.text == "GET /old  ")
        #expect(closed)
    }

    @Test func expectContinueGetsAnInterimAnswer() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let (interim, response) = try await offPool { () -> (String, HTTPClientResponse) in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let interim = try connection.read { $0.count >= continueResponse.count }
            try connection.send("data")
            return (string(interim), try connection.readResponse())
        }
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(response.text == "PUT /f  data")
    }

    @Test func oversizedBodiesAreRefusedWith413() async throws {
        let (server, endpoint) = try unixServer(limits: HTTPLimits(maxBodyBytes: 1024))
        defer { server.shutdown() }
        let small = try await offPool {
            try HTTPClient(endpoint: endpoint).send(method: "POST", path: "/", body: [UInt8](repeating: 0x61, count: 4096))
        }
        #expect(small.status == 413)
        #expect(small.text.contains(#""code":"too_large""#))
        #expect(small.headers["Connection"] == "close")
    }

    @Test func defaultLimitRefusesTwoMebibytes() async throws {
        let (server, endpoint) = try tcpServer()
        defer { server.shutdown() }
        let response = try await offPool {
            try HTTPClient(endpoint: endpoint).send(method: "PUT", path: "/big", body: [UInt8](repeating: 0x62, count: 2 << 20))
        }
        #expect(response.status == 413)
        #expect(response.text == #"{"error":{"code":"too_large","message":"request body is larger than 1048576 bytes"}}"#)
    }

    @Test func oversizedHeadersAreRefusedWith431() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let response = try await offPool {
            try HTTPClient(endpoint: endpoint).send(
                method: "GET", path: "/", headers: ["X-Big": String(repeating: "h", count: 70_000)])
        }
        #expect(response.status == 431)
        #expect(response.text.contains(#""code":"too_large""#))
    }

    @Test func malformedRequestsGet400AndAClose() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let (response, closed) = try await offPool { () -> (HTTPClientResponse, Bool) in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("NOT HTTP AT ALL\r\n\r\n")
            return (try connection.readResponse(), connection.isClosedByPeer())
        }
        #expect(response.status == 400)
        #expect(response.text.contains(#""code":"bad_request""#))
        #expect(closed)
    }

    @Test func headRequestsGetNoBody() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        let response = try await offPool { try HTTPClient(endpoint: endpoint).send(method: "HEAD", path: "/h") }
        #expect(response.status == 200)
        #expect(response.headers["Content-Length"] == "9")
        #expect(response.body.isEmpty)
    }

    @Test func unreachableEndpointsAreTold() async throws {
        let path = temporarySocketPath()
        let error = try await offPool { () -> HTTPClientError? in
            do throws(HTTPClientError) {
                _ = try HTTPClient(endpoint: .unix(path: path)).send(method: "GET", path: "/")
                return nil
            } catch {
                return error
            }
        }
        #expect(error == .connect(.noEntry))
        #expect(error?.isUnreachable == true)
    }

    @Test func shutdownClosesListenersAndIdleConnections() async throws {
        let (server, endpoint) = try unixServer()
        let (tcp, tcpEndpoint) = try tcpServer()
        let (closed, unixError, tcpError) = try await offPool { () -> (Bool, HTTPClientError?, HTTPClientError?) in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("GET / HTTP/1.1\r\n\r\n")
            _ = try connection.readResponse()
            server.shutdown()
            tcp.shutdown()
            let closed = connection.isClosedByPeer()
            var errors: [HTTPClientError?] = []
            for target in [endpoint, tcpEndpoint] {
                do throws(HTTPClientError) {
                    _ = try HTTPClient(endpoint: target).send(method: "GET", path: "/")
                    errors.append(nil)
                } catch {
                    errors.append(error)
                }
            }
            return (closed, errors[0], errors[1])
        }
        #expect(closed)
        #expect(unixError == .connect(.noEntry))
        #expect(tcpError == .connect(.connectionRefused))
        #expect(throws: Errno.invalid) { try server.listen(unixPath: temporarySocketPath()) }
    }

    @Test func shutdownCancelsARunningHandlerAndClosesItsConnection() async throws {
        let entered = Signal()
        let handler = ClosureHandler { _ in
            entered.fire()
            try? await Task.sleep(for: .seconds(10))
            return .text(Task.isCancelled ? "cancelled" : "slept")
        }
        let (server, endpoint) = try unixServer(handler)
        let error = try await offPool { () -> HTTPClientError? in
            let client = Background { () -> HTTPClientError? in
                do throws(HTTPClientError) {
                    _ = try HTTPClient(endpoint: endpoint).send(method: "GET", path: "/slow")
                    return nil
                } catch {
                    return error
                }
            }
            #expect(entered.wait())
            server.shutdown()
            return client.result() ?? .timedOut
        }
        #expect(error == .closed)
    }
}
