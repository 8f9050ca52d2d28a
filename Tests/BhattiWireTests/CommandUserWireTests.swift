import BhattiJSON
import BhattiWire
import Foundation
import Testing

@Suite("A command's user on the wire")
struct CommandUserWireTests {
    @Test("exec: `user` goes out only when set, and both coders read it back", arguments: [nil, "root", "a b"])
    func execUser(user: String?) throws {
        let request = ExecRequest(argv: ["id", "-u"], user: user)
        let text = String(decoding: request.fastJSON, as: UTF8.self)
        // Left out when nil: the same bytes an older host sent, so an older agent reads them as before.
        #expect(text.contains("\"user\"") == (user != nil), "\(text)")
        #expect(try ExecRequest(fastJSON: request.fastJSON).user == user)
        #expect(try JSONDecoder().decode(ExecRequest.self, from: Data(request.fastJSON)).user == user)
        #expect(try ExecRequest(fastJSON: WireJSON.encode(request)).user == user)
    }

    @Test("an exec request from an older host (no `user`) runs as the sandbox's user")
    func olderExec() throws {
        let old = Array(#"{"argv":["true"],"env":{},"stdin":false}"#.utf8)
        #expect(try ExecRequest(fastJSON: old).user == nil)
        #expect(try JSONDecoder().decode(ExecRequest.self, from: Data(old)).user == nil)
    }

    @Test("session requests carry `user`, and one without it decodes as nil")
    func sessionUser() throws {
        let request = SessionRequest(argv: ["sh"], tty: false, user: "root")
        let frame = Frame(stream: 1, type: .session, payload: WireJSON.encode(request))
        #expect(String(decoding: frame.payload, as: UTF8.self).contains("\"user\":\"root\""))
        #expect(try WireJSON.decode(SessionRequest.self, from: frame) == request)
        let old = Frame(stream: 1, type: .session, payload: Array(#"{"argv":[],"tty":true,"env":{},"reuse_detached":false}"#.utf8))
        #expect(try WireJSON.decode(SessionRequest.self, from: old).user == nil)
    }
}
