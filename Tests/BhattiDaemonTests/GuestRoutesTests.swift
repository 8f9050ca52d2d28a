import BhattiAPI
import BhattiCore
import BhattiEngine
import BhattiSystem
import Foundation
import Testing

@testable import BhattiDaemon
@testable import BhattiHTTP

/// The guest routes' handlers over a fake guest (no QEMU): what the guest answers or refuses becomes
/// the API's status and message, as the error table says.
@Suite("Guest routes over a fake guest")
struct GuestRoutesTests {
    /// A hot sandbox whose guest is `guest`; `body` gets the service and the sandbox's reference.
    func withSandbox(_ guest: FakeGuest, _ body: (SandboxService, SandboxRef) async throws -> Void) async throws {
        let h = try Harness()
        await h.engine.install(guest)
        let sb = try await h.sandbox("box", .hot)
        try await body(h.service, h.ref(sb))
        await h.finish()
    }

    /// The API error `body` throws, with its HTTP status.
    func refusal(_ body: () async throws -> HTTPResponse) async -> (status: Int, message: String)? {
        do {
            _ = try await body()
            Issue.record("expected an error")
            return nil
        } catch let error as BhattiError {
            return (HTTPStatusMapping.status(for: error.code), error.message)
        } catch {
            Issue.record("not an API error: \(error)")
            return nil
        }
    }

    func request(_ method: String, _ target: String, headers: HTTPHeaders = [], body: String = "") -> HTTPRequest {
        HTTPRequest(method: method, target: target, headers: headers, body: Array(body.utf8))
    }

    /// Every byte of a streamed body, read as the server's connection thread would.
    func drain(_ response: HTTPResponse) async throws -> String {
        guard case .stream(let stream) = response.body else {
            guard case .bytes(let bytes) = response.body else { return "" }
            return String(decoding: bytes, as: UTF8.self)
        }
        stream.start()
        let bytes = try await Blocking.run(name: "test-drain") { () -> [UInt8] in
            var all: [UInt8] = []
            let giveUp = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < giveUp {
                switch stream.next(timeoutMilliseconds: 1000) {
                case .data(let chunk): all += chunk
                case .last(let chunk): return all + chunk
                case .finished, .cancelled: return all
                case .idle: continue
                }
            }
            return all
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("a file the guest does not have is a 404 with the guest's message")
    func missingFile() async throws {
        try await withSandbox(FakeGuest()) { service, ref in
            let refused = await refusal {
                try await FileHandlers.handle(request("GET", "/v1/sandboxes/box/files?path=/nope"), id: ref, service: service)
            }
            #expect(refused?.status == 404)
            #expect(refused?.message == "/nope: no such file or directory")
        }
    }

    @Test("a file the guest has streams its bytes, with its size")
    func readFile() async throws {
        try await withSandbox(FakeGuest(files: ["/w/a": Array("hello".utf8)])) { service, ref in
            let response = try await FileHandlers.handle(request("GET", "/v1/sandboxes/box/files?path=/w/a"), id: ref, service: service)
            #expect(response.headers["X-File-Size"] == "5")
            #expect(try await drain(response) == "hello")
        }
    }

    @Test(
        "each guest refusal has its status",
        arguments: [
            (GuestError.Kind.badRequest, 400), (.notFound, 404), (.permissionDenied, 403), (.resourceExhausted, 429),
            (.insufficientStorage, 507), (.internal, 500),
        ])
    func refusals(kind: GuestError.Kind, status: Int) async throws {
        try await withSandbox(FakeGuest(failure: GuestError(kind, "refused: \(kind)"))) { service, ref in
            let listed = await refusal {
                try await FileHandlers.handle(request("GET", "/v1/sandboxes/box/files?path=/w&ls=true"), id: ref, service: service)
            }
            #expect(listed?.status == status)
            #expect(listed?.message == "refused: \(kind)")
            let written = await refusal {
                try await FileHandlers.handle(request("PUT", "/v1/sandboxes/box/files?path=/w/f", body: "x"), id: ref, service: service)
            }
            #expect(written?.status == status)
        }
    }

    @Test("a guest that does not answer is a 503 that says so")
    func noAnswer() async throws {
        try await withSandbox(FakeGuest(failure: GuestError(.unavailable, "the guest agent connection closed"))) { service, ref in
            let stat = await refusal {
                try await FileHandlers.handle(request("HEAD", "/v1/sandboxes/box/files?path=/w/a"), id: ref, service: service)
            }
            #expect(stat?.status == 503)
            #expect(stat?.message == "the agent in box did not answer: the guest agent connection closed")
            let read = await refusal {
                try await FileHandlers.handle(request("GET", "/v1/sandboxes/box/files?path=/w/a"), id: ref, service: service)
            }
            #expect(read?.status == 503)
            let exec = await refusal {
                try await ExecHandler.exec(request("POST", "/v1/sandboxes/box/exec", body: #"{"cmd":["true"]}"#), id: ref, service: service)
            }
            #expect(exec?.status == 503)
            #expect(exec?.message.hasPrefix("exec in box failed") == true)
        }
    }

    @Test("an exec's output and exit code come back buffered, and streamed line by line")
    func exec() async throws {
        let guest = FakeGuest(output: [.stdout(Array("hi\n".utf8)), .stderr(Array("oops\n".utf8))], exitCode: 3)
        try await withSandbox(guest) { service, ref in
            let buffered = try await ExecHandler.exec(
                request("POST", "/v1/sandboxes/box/exec", body: #"{"cmd":["x"]}"#), id: ref, service: service)
            let result = try JSONDecoder().decode(ExecResultDTO.self, from: Data(try await drain(buffered).utf8))
            #expect(result.exitCode == 3)
            #expect(result.stdout == "hi\n")
            #expect(result.stderr == "oops\n")

            let streamed = try await ExecHandler.exec(
                request("POST", "/v1/sandboxes/box/exec", headers: ["Accept": APIVersion.ndjson], body: #"{"cmd":["x"]}"#), id: ref,
                service: service)
            let lines = try await drain(streamed).split(separator: "\n").map {
                try JSONDecoder().decode(ExecStreamLine.self, from: Data($0.utf8))
            }
            #expect(lines.map(\.type) == ["stdout", "stderr", "exit"])
            #expect(lines.first?.data == "hi\n")
            #expect(lines.last?.exitCode == 3)
        }
    }

    @Test("a command the guest cannot find exits 127 with the reason on stderr")
    func commandNotFound() async throws {
        try await withSandbox(FakeGuest(failure: GuestError(.notFound, "nope: command not found"))) { service, ref in
            let response = try await ExecHandler.exec(
                request("POST", "/v1/sandboxes/box/exec", body: #"{"cmd":["nope"]}"#), id: ref, service: service)
            let result = try JSONDecoder().decode(ExecResultDTO.self, from: Data(try await drain(response).utf8))
            #expect(result.exitCode == 127)
            #expect(result.stderr == "bhatti: nope: command not found\n")
        }
    }

    @Test("a port nothing listens on is a 502 that names it")
    func forwardRefused() async throws {
        try await withSandbox(FakeGuest()) { service, ref in
            let refused = await refusal {
                try await ProxyHandler.handle(request("GET", "/v1/sandboxes/box/proxy/8080/"), ref: ref, port: "8080", service: service)
            }
            #expect(refused?.status == 502)
            #expect(refused?.message.hasPrefix("nothing answers on port 8080 in sandbox box") == true)
        }
    }
}
