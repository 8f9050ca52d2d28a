import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import Foundation
import Testing

/// Bad input on envd's Connect surface: every refusal is a clear Connect error, nothing crashes, and
/// the sandbox still answers afterwards.
@Suite("E2B envd bad input", .serialized)
struct E2BEnvdInputTests {
    @Test(
        "no or a wrong token, an unknown method, a wrong content type, a huge or truncated envelope, bad JSON, names of nothing: Connect errors"
    )
    func refusals() async throws {
        try await withDaemon { d in
            let made = try await d.raw(
                "POST", "/e2b/v2/sandboxes", headers: ["X-API-Key": d.daemon.adminKey, "Content-Type": "application/json"],
                body: Array(#"{"templateID":"base","timeout":600}"#.utf8))
            #expect(made.status == 201, "\(made.text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])
            let id = try #require(object["sandboxID"] as? String)
            let token = try #require(object["envdAccessToken"] as? String)

            func envd(_ path: String, token: String?, type: String, body: [UInt8]) async throws -> HTTPClientResponse {
                var headers: HTTPHeaders = ["E2b-Sandbox-Id": id, "Content-Type": type]
                if let token { headers.set("X-Access-Token", token) }
                return try await d.raw("POST", "/e2b/envd/" + path, headers: headers, body: body)
            }
            func envelope(_ json: String, length: UInt32? = nil) -> [UInt8] {
                let payload = Array(json.utf8)
                let n = length ?? UInt32(payload.count)
                return [0, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + payload
            }
            let start = "process.Process/Start"
            let good = envelope(#"{"process":{"cmd":"/bin/echo","args":["hi"]},"stdin":false}"#)

            let noToken = try await envd(start, token: nil, type: "application/connect+json", body: good)
            #expect(noToken.status == 401 && noToken.text.contains(#""code":"unauthenticated""#), "\(noToken.text)")
            let wrong = try await envd(start, token: token + "x", type: "application/connect+json", body: good)
            #expect(wrong.status == 401, "\(wrong.text)")

            let unknown = try await envd("process.Process/Frobnicate", token: token, type: "application/json", body: Array("{}".utf8))
            #expect(unknown.status == 501 && unknown.text.contains(#""code":"unimplemented""#), "\(unknown.text)")

            let plain = try await envd(start, token: token, type: "text/plain", body: good)
            #expect(plain.status == 415, "\(plain.text)")

            // The length says 2 GiB: refused from the header, before anything is buffered.
            let huge = try await envd(start, token: token, type: "application/connect+json", body: envelope("{}", length: 0x7fff_ffff))
            #expect(huge.status == 200 && huge.text.contains("resource_exhausted"), "\(huge.text)")
            let truncated = try await envd(start, token: token, type: "application/connect+json", body: Array(good.dropLast(3)))
            #expect(truncated.status == 200 && truncated.text.contains("invalid_argument"), "\(truncated.text)")
            let notJSON = try await envd(start, token: token, type: "application/connect+json", body: envelope("{nope"))
            #expect(notJSON.status == 200 && notJSON.text.contains("invalid_argument"), "\(notJSON.text)")
            let badUnary = try await envd("filesystem.Filesystem/Stat", token: token, type: "application/json", body: Array("[1]".utf8))
            #expect(badUnary.status == 400 && badUnary.text.contains("invalid_argument"), "\(badUnary.text)")

            // The other server streams refuse the unary codec too.
            for call in ["process.Process/Connect", "filesystem.Filesystem/WatchDir"] {
                let asUnary = try await envd(call, token: token, type: "application/json", body: Array("{}".utf8))
                #expect(asUnary.status == 415, "\(call): \(asUnary.text)")
            }
            // Names of nothing: a Connect not_found each, the stream's in its end message.
            let json = "application/json"
            for (call, body) in [
                ("filesystem.Filesystem/GetWatcherEvents", #"{"watcherId":"nope"}"#),
                ("filesystem.Filesystem/RemoveWatcher", #"{"watcherId":"nope"}"#),
                ("filesystem.Filesystem/Move", #"{"source":"/nope","destination":"/tmp/x"}"#),
                ("filesystem.Filesystem/Remove", #"{"path":"/nope"}"#),
                ("process.Process/SendInput", #"{"process":{"pid":4242},"input":{"stdin":"eA=="}}"#),
                ("process.Process/SendSignal", #"{"process":{"pid":4242},"signal":"SIGNAL_SIGKILL"}"#),
            ] {
                let r = try await envd(call, token: token, type: json, body: Array(body.utf8))
                #expect(r.status == 404 && r.text.contains("not_found"), "\(call): \(r.status) \(r.text)")
            }
            let watchMissing = try await envd(
                "filesystem.Filesystem/WatchDir", token: token, type: "application/connect+json", body: envelope(#"{"path":"/nope"}"#))
            #expect(watchMissing.status == 200 && watchMissing.text.contains("not_found"), "\(watchMissing.text)")

            // Still serving: the same sandbox runs a command through the same surface.
            let ran = try await envd(start, token: token, type: "application/connect+json", body: good)
            #expect(ran.status == 200 && ran.text.contains(Data("hi\n".utf8).base64EncodedString()), "\(ran.text)")
        }
    }
}
