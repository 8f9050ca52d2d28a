import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import Foundation
import Testing

/// Bad input gets a clear error and changes nothing. No VM boots here.
@Suite("API errors", .serialized)
struct APIErrorTests {
    @Test("validation, auth and routing errors use the error envelope and fitting statuses")
    func errors() async throws {
        try await withDaemon { d in
            let cases: [(String, String, String?, Int, String)] = [
                ("GET", "/v1/sandboxes/nope", nil, 404, "not_found"),
                ("DELETE", "/v1/sandboxes/nope", nil, 404, "not_found"),
                ("POST", "/v1/sandboxes/nope/exec", "{\"cmd\":[\"true\"]}", 404, "not_found"),
                ("POST", "/v1/sandboxes", "{\"name\":\"bad name!\"}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"cpus\":0}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"cpus\":64}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"memory_mb\":16}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"cpus\":\"two\"}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"bogus\":1}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"disk_mb\":100}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"env\":{\"1BAD\":\"x\"}}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"secrets\":[\"NOPE\"]}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "{\"name\":\"ok\",\"files\":[{\"path\":\"rel\",\"content\":\"\"}]}", 400, "invalid_argument"),
                ("POST", "/v1/sandboxes", "not json", 400, "invalid_argument"),
                ("PUT", "/v1/sandboxes", nil, 405, "method_not_allowed"),
                ("GET", "/v2/whatever", nil, 404, "not_found"),
            ]
            for (method, path, body, status, code) in cases {
                let r = try await d.call(method, path, json: body)
                #expect(r.status == status, "\(method) \(path) \(body ?? ""): \(r.status) \(r.text)")
                #expect(d.errorCode(r) == code, "\(method) \(path): \(r.text)")
                let envelope = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body))
                #expect(envelope.error.requestID?.hasPrefix("req_") == true)
            }
            // Nothing was created by any of them.
            let list = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(list.isEmpty)

            // Auth: none, wrong, and tokens in the query string.
            #expect(try await d.raw("GET", "/v1/sandboxes").status == 401)
            #expect(try await d.raw("GET", "/v1/sandboxes", headers: ["Authorization": "Bearer bht_wrong"]).status == 401)
            #expect(try await d.raw("GET", "/v1/sandboxes?token=\(d.daemon.adminKey)").status == 401)
            // Health needs none and says which accelerator runs the VMs.
            let health = try JSONDecoder().decode(HealthDTO.self, from: Data(try await d.raw("GET", "/health").body))
            #expect(health.status == "ok")
            #expect(["kvm", "tcg"].contains(health.accelerator))
            // Over TCP too.
            let tcp = HTTPClient(endpoint: .tcp(host: "127.0.0.1", port: try #require(d.daemon.tcpPort)))
            #expect(try await d.raw("GET", "/health", via: tcp).status == 200)
            // The unix socket is private to root.
            let attributes = try FileManager.default.attributesOfItem(atPath: d.daemon.socketPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let keyAttributes = try FileManager.default.attributesOfItem(atPath: d.dataDirectory + "/admin.key")
            #expect((keyAttributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test("a missing guest image tells the user to build it, and creates nothing")
    func missingImage() async throws {
        try await withDaemon(imageDirectory: "/tmp/bhatti-no-image-here") { d in
            let r = try await d.call("POST", "/v1/sandboxes", json: "{\"name\":\"dev\"}")
            #expect(r.status == 503)
            #expect(r.text.contains("bhatti image build"), "\(r.text)")
            let list = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(list.isEmpty)
        }
    }
}
