import BhattiWire
import Testing

@Suite("File operation messages")
struct FileOperationsWireTests {
    @Test("a move names its source and destination; a make-directory reply says whether it made one")
    func messages() throws {
        let move = MoveRequest(source: "/workspace/a b", destination: "rel/ü")
        let frame = Frame(stream: 3, type: .fileMove, payload: WireJSON.encode(move))
        #expect(try WireJSON.decode(MoveRequest.self, from: frame) == move)
        let text = String(decoding: frame.payload, as: UTF8.self)
        #expect(text.contains("\"source\":") && text.contains("\"destination\":"), "\(text)")
        for created in [true, false] {
            let reply = Frame(stream: 3, type: .result, payload: WireJSON.encode(MakeDirectoryReply(created: created)))
            #expect(String(decoding: reply.payload, as: UTF8.self) == "{\"created\":\(created)}")
            #expect(try WireJSON.decode(MakeDirectoryReply.self, from: reply).created == created)
        }
    }

    @Test("a move without its destination is malformed")
    func malformed() {
        #expect(throws: WireError.self) {
            try WireJSON.decode(MoveRequest.self, from: Frame(stream: 1, type: .fileMove, payload: Array(#"{"source":"/a"}"#.utf8)))
        }
    }
}
