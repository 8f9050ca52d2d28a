import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiHTTP
import Foundation
import Testing

@testable import BhattiDaemon

/// The E2B API spends a user's rate-limit buckets as the native API does: a create or fork from the
/// `create` bucket, a command or upload through envd from `exec` (charged to the sandbox's owner,
/// since envd calls carry a sandbox token, not a key), the rest from `read`. The clock stands still,
/// so no bucket refills during the test.
@Suite("E2B rate limits", .serialized)
struct E2BRateLimitTests {
    @Test("the control plane's and envd's buckets, in a table")
    func classes() {
        func request(_ method: String) -> HTTPRequest { HTTPRequest(method: method, target: "/", version: .http1_1, headers: [], body: []) }
        let control: [(String, [Substring], RequestClass)] = [
            ("POST", ["v2", "sandboxes"], .create), ("POST", ["sandboxes"], .create), ("POST", ["sandboxes", "x", "fork"], .create),
            ("GET", ["v2", "sandboxes"], .read), ("POST", ["sandboxes", "x", "pause"], .read),
            ("POST", ["sandboxes", "x", "snapshots"], .read),
            ("DELETE", ["sandboxes", "x"], .read), ("GET", ["sandboxes", "x", "fork"], .read),
        ]
        for (method, path, kind) in control {
            #expect(E2BHandler.requestClass(request(method), path) == kind, "\(method) \(path)")
        }
        let envd: [(String, String, RequestClass?)] = [
            ("POST", "process.Process/Start", .exec), ("POST", "files", .exec), ("GET", "files", .read),
            ("POST", "process.Process/SendInput", nil), ("POST", "process.Process/Update", nil),
            ("POST", "process.Process/CloseStdin", nil),
            ("POST", "process.Process/List", .read), ("POST", "filesystem.Filesystem/Stat", .read), ("GET", "health", .read),
        ]
        for (method, route, kind) in envd {
            #expect(E2BEnvd.requestClass(method, route) == kind, "\(method) \(route)")
        }
    }

    @Test(
        "a user's second create is 429 with Retry-After; a fork then too; envd's third command is resource_exhausted; the admin is never limited"
    )
    func buckets() async throws {
        try await withDaemon(configure: {
            $0.rateLimits.create = try! RateLimit(perMinute: 1, burst: 1)
            $0.rateLimits.exec = try! RateLimit(perMinute: 1, burst: 2)
        }) { d in
            let ann = try await ImageTests.user(d, "ann")
            func control(_ method: String, _ path: String, key: String, _ body: String = "{}") async throws -> HTTPClientResponse {
                try await d.raw(
                    method, "/e2b" + path, headers: ["X-API-Key": key, "Content-Type": "application/json"], body: Array(body.utf8))
            }
            let made = try await control("POST", "/v2/sandboxes", key: ann.key, #"{"templateID":"base","timeout":600}"#)
            #expect(made.status == 201, "\(made.text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])
            let id = try #require(object["sandboxID"] as? String)
            let token = try #require(object["envdAccessToken"] as? String)

            let again = try await control("POST", "/v2/sandboxes", key: ann.key, #"{"templateID":"base"}"#)
            #expect(again.status == 429 && again.headers["Retry-After"] != nil, "\(again.status) \(again.text)")
            #expect(again.text.contains(#""code":429"#), "E2B's error shape: \(again.text)")
            #expect(try await control("POST", "/sandboxes/\(id)/fork", key: ann.key).status == 429)
            // Reads are another bucket.
            #expect(try await control("GET", "/sandboxes/\(id)", key: ann.key).status == 200)

            let payload = Array(#"{"process":{"cmd":"/bin/true"}}"#.utf8)
            let start: [UInt8] = [0, 0, 0, 0, UInt8(payload.count)] + payload
            func run() async throws -> HTTPClientResponse {
                try await d.raw(
                    "POST", "/e2b/envd/process.Process/Start",
                    headers: ["E2b-Sandbox-Id": id, "X-Access-Token": token, "Content-Type": "application/connect+json"], body: start)
            }
            for _ in 0..<2 {
                let ran = try await run()
                #expect(ran.status == 200 && ran.text.contains(#""end""#) && !ran.text.contains("resource_exhausted"), "\(ran.text)")
            }
            let limited = try await run()
            #expect(limited.text.contains("resource_exhausted") && limited.headers["Retry-After"] != nil, "\(limited.text)")

            // The admin's own creates are not counted.
            for _ in 0..<2 {
                let r = try await control("POST", "/v2/sandboxes", key: d.daemon.adminKey, #"{"templateID":"base","timeout":600}"#)
                #expect(r.status == 201, "\(r.text)")
            }
        }
    }

    @Test("a fork of three spends a create token for each sandbox past the first: one fork, then two 429 entries")
    func forkCount() async throws {
        try await withDaemon(configure: { $0.rateLimits.create = try! RateLimit(perMinute: 1, burst: 2) }) { d in
            let ann = try await ImageTests.user(d, "ann")
            func control(_ path: String, _ body: String) async throws -> HTTPClientResponse {
                try await d.raw(
                    "POST", "/e2b" + path, headers: ["X-API-Key": ann.key, "Content-Type": "application/json"], body: Array(body.utf8))
            }
            let made = try await control("/v2/sandboxes", #"{"templateID":"base","timeout":600}"#)
            #expect(made.status == 201, "\(made.text)")
            let id = try #require((try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])?["sandboxID"] as? String)
            let forked = try await control("/sandboxes/\(id)/fork", #"{"count":3,"timeout":600}"#)
            #expect(forked.status == 201, "\(forked.text)")
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(forked.body)) as? [[String: Any]])
            #expect(entries.count == 3)
            #expect(entries.first?["sandbox"] != nil, "\(forked.text)")
            #expect(entries.dropFirst().allSatisfy { ($0["error"] as? [String: Any])?["code"] as? Int == 429 }, "\(forked.text)")
            let listed = try await d.raw("GET", "/e2b/v2/sandboxes", headers: ["X-API-Key": ann.key])
            #expect((try JSONSerialization.jsonObject(with: Data(listed.body)) as? [Any])?.count == 2, "the source and one fork")
        }
    }
}
