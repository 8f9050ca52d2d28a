import BhattiAPI
import BhattiHTTP
import Foundation
import Testing

@testable import BhattiDaemon

/// The exec route's hand-written body reader and reply writer agree with the Codable ones.
@Suite("Exec body and reply")
struct ExecBodyTests {
    func request(_ body: String) -> HTTPRequest {
        var r = HTTPRequest(method: "POST", target: "/v1/sandboxes/x/exec")
        r.body = Array(body.utf8)
        return r
    }

    @Test(
        "bodies the fast reader takes decode as JSONDecoder decodes them",
        arguments: [
            #"{"cmd":["true"]}"#,
            #"{"cmd":["sh","-c","echo \"a/b\" \\ \u00e9"],"env":{"K":"v","E":""},"cwd":"/w","timeout_sec":2.5,"detach":false,"stdin":"in\n"}"#,
            #"{"cmd":["x"],"timeout_sec":30,"env":null,"cwd":null,"detach":null,"stdin":null}"#,
            #" { "cmd" : [ ] } "#,
        ])
    func agree(_ body: String) throws {
        let fast = try ExecHandler.fastBody(Array(body.utf8))
        let slow = try decodeBody(ExecRequestDTO.self, from: request(body), known: ExecRequestDTO.knownFields)
        #expect(fast == slow)
        #expect(try ExecHandler.decodeExecBody(request(body)) == slow)
    }

    @Test(
        "what the fast reader does not take gets the shared errors",
        arguments: [
            (#"{"cmd":["true"],"bogus":1}"#, "unknown field \"bogus\""),
            (#"{"cmd":"true"}"#, "field \"cmd\" has the wrong type"),
            (#"[1]"#, "request body must be a JSON object"),
            (#"{"cmd":["true"],}"#, nil),  // Foundation takes a trailing comma; so, through it, do we
        ])
    func fallBack(_ body: String, _ message: String?) throws {
        #expect(throws: (any Error).self) { try ExecHandler.fastBody(Array(body.utf8)) }
        if let message {
            #expect { try ExecHandler.decodeExecBody(request(body)) } throws: { "\($0)".contains(message) }
        } else {
            #expect(try ExecHandler.decodeExecBody(request(body)).cmd == ["true"])
        }
    }

    @Test("the hand-written reply reads back as the DTO, awkward output included")
    func reply() throws {
        for (out, err) in [("", ""), ("hi\n", "warn: \"x\"\t\u{1}\\ / é 😀\n"), (String(repeating: "z", count: 100_000), "")] {
            let dto = ExecResultDTO(exitCode: 3, stdout: out, stderr: err, durationMs: 18.123456)
            let response = ExecHandler.fastJSON(dto)
            guard case .bytes(let bytes) = response.body else {
                Issue.record("not a byte body")
                return
            }
            #expect(try JSONDecoder().decode(ExecResultDTO.self, from: Data(bytes)) == dto)
            #expect(response.headers["Content-Type"]?.hasPrefix("application/json") == true)
        }
    }
}

/// Which requests run on the HTTP loop thread: the exec route only.
@Suite("Handler placement")
struct PlacementTests {
    @Test("POST …/exec runs on the loop; every other route, and exec's neighbours, on the pool")
    func execOnly() {
        #expect(APIHandler.placement(method: "POST", path: "/v1/sandboxes/dev/exec") == .loop)
        #expect(APIHandler.placement(method: "POST", path: "/v1/sandboxes/sbx_1a2b/exec") == .loop)
        for (method, path) in [
            ("GET", "/v1/sandboxes/dev/exec"), ("POST", "/v1/sandboxes"), ("POST", "/v1/sandboxes/dev/start"),
            ("POST", "/v1/sandboxes/dev/exec/ws"), ("POST", "/v1/sandboxes/exec"), ("GET", "/health"),
            ("POST", "/v1/sandboxes/dev/proxy/8080/exec"), ("PUT", "/v1/sandboxes/dev/files"),
        ] {
            #expect(APIHandler.placement(method: method, path: path) == .pool, "\(method) \(path)")
        }
    }
}
