import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// What api.md promises of every reply, and errors that say what is wrong in the user's words.
/// Against a real daemon; no VM boots here.
@Suite("API consistency", .serialized)
struct APIConsistencyTests {
    static func isRequestID(_ id: String?) -> Bool {
        guard let id, id.hasPrefix("req_") else { return false }
        let hex = id.dropFirst(4)
        return hex.count == 16 && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    @Test("every request id is req_ and 16 hex digits, the same in the header and the envelope")
    func requestIDLength() async throws {
        try await withDaemon { d in
            // A random 64-bit number has fewer than 16 hex digits one time in 16: 200 tries meet one
            // all but certainly (the old ids varied in length).
            for _ in 0..<200 {
                let r = try await d.call("GET", "/v1/sandboxes/nope")
                let envelope = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body))
                #expect(Self.isRequestID(envelope.error.requestID), "\(envelope.error.requestID ?? "none")")
                #expect(r.headers["X-Request-Id"] == envelope.error.requestID)
            }
        }
    }

    @Test("a body over the limit (413) and a chunked upload (400) carry the headers and a request_id too")
    func rejectedRequestsCarryHeaders() async throws {
        try await withDaemon { d in
            let big = "{\"name\":\"" + String(repeating: "a", count: 1 << 20) + "\"}"
            let tooLarge = try await d.call("POST", "/v1/sandboxes", json: big)
            #expect(tooLarge.status == 413)
            #expect(Self.isRequestID(tooLarge.headers["X-Request-Id"]), "\(tooLarge.headers)")
            #expect(tooLarge.headers["X-Bhatti-Version"] == APIVersion.server)
            let envelope = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(tooLarge.body))
            #expect(envelope.error.code == "too_large" && envelope.error.requestID == tooLarge.headers["X-Request-Id"])

            let (status, reply) = try await curl([
                "-i", "--unix-socket", d.daemon.socketPath, "-X", "PUT", "-H", "Authorization: Bearer \(d.daemon.adminKey)",
                "-H", "Transfer-Encoding: chunked", "--data-binary", "hello", "http://localhost/v1/sandboxes/x/files?path=/c",
            ])
            #expect(status == 0, "\(reply)")
            let lines = reply.split(separator: "\r\n", omittingEmptySubsequences: false)
            #expect(lines.first == "HTTP/1.1 400 Bad Request", "\(reply)")
            #expect(lines.contains { $0.lowercased().hasPrefix("x-request-id: req_") }, "\(reply)")
            #expect(lines.contains { $0.lowercased() == "x-bhatti-version: \(APIVersion.server)" }, "\(reply)")
            #expect(reply.contains(#""request_id":"req_"#) && reply.contains(#""code":"bad_request""#), "\(reply)")
        }
    }

    @Test("errors name what is wrong: a missing field, an environment variable, a snapshot name, a reserved label")
    func messagesInTheUsersWords() async throws {
        try await withDaemon { d in
            let cases: [(String, String, String, String)] = [
                ("POST", "/v1/sandboxes/nope/snapshots", "{}", #"missing field "name""#),
                ("POST", "/v1/sandboxes/nope/snapshots", #"{"name":"bad name!"}"#, #"invalid snapshot name "bad name!""#),
                ("POST", "/v1/sandboxes", #"{"name":"ok","env":{"1A":"b"}}"#, #"invalid environment variable name "1A""#),
                // The same rule for exec: "A=B" would set A, another variable than the one named.
                ("POST", "/v1/sandboxes/nope/exec", #"{"cmd":["env"],"env":{"A=B":"x"}}"#, #"invalid environment variable name "A=B""#),
                ("POST", "/v1/sandboxes", #"{"name":"ok","labels":{"bhatti.sh/x":"y"}}"#, "is reserved"),
                ("POST", "/v1/sandboxes", #"{"name":"ok","files":[{"content":""}]}"#, #"missing field "files[0].path""#),
                ("POST", "/v1/secrets", #"{"name":"A"}"#, #"missing field "value""#),
            ]
            for (method, path, body, expected) in cases {
                let r = try await d.call(method, path, json: body)
                let envelope = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body))
                #expect(
                    r.status == 400 && envelope.error.message.contains(expected), "\(path) \(body): \(r.status) \(envelope.error.message)")
                #expect(!envelope.error.message.contains("CodingKeys"), "no Swift internals: \(envelope.error.message)")
            }
        }
    }

    @Test("event times carry milliseconds")
    func eventMilliseconds() async throws {
        try await withDaemon { d in
            #expect(try await d.call("POST", "/v1/users", json: #"{"name":"evt"}"#).status == 201)
            let events = try JSONDecoder().decode([EventDTO].self, from: Data(try await d.call("GET", "/v1/events?type=user").body))
            let created = try #require(events.first { $0.type == "user.created" })
            #expect(created.at.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(created.at)")
            let unknown = try await d.call("GET", "/v1/events?sandbox=never-was")
            #expect(unknown.status == 404 && d.errorCode(unknown) == "not_found", "a name that is no sandbox: \(unknown.text)")
        }
    }

}
