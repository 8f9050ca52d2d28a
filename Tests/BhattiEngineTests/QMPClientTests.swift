import BhattiJSON
import BhattiSystem
import Foundation
import Synchronization
import Testing

@testable import BhattiEngine

/// A scripted QMP peer on a unix socket: the protocol seam, played by a fake.
private func fakeQMP(path: String, replies: @escaping @Sendable (String) -> String?) throws {
    let listener = try Socket.listen(unixPath: path)
    startThread(name: "fake-qmp") {
        guard let conn = try? Socket.accept(listener) else { return }
        listener.close()
        try? conn.writeAll(Array("{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n".utf8))
        let reader = LineReader(fd: conn)
        while let line = try? reader.nextLine() {
            let text = String(decoding: line, as: UTF8.self)
            if let reply = replies(text) { try? conn.writeAll(Array((reply + "\r\n").utf8)) } else { break }
        }
        conn.close()
    }
}

@Suite("QMP client")
struct QMPClientTests {
    func idOf(_ line: String) -> Int {
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return (object?["id"] as? Int) ?? -1
    }

    @Test("capabilities handshake, command replies matched by id, events delivered")
    func roundTrip() async throws {
        let path = "/tmp/bh-qmp-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        try fakeQMP(path: path) { line in
            let id = idOf(line)
            if line.contains("qmp_capabilities") { return "{\"return\": {}, \"id\": \(id)}" }
            if line.contains("query-status") {
                return "{\"event\": \"RESUME\", \"data\": {}}\r\n{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": \(id)}"
            }
            return "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}, \"id\": \(id)}"
        }
        let events = Collected()
        let qmp = try await QMPClient.connect(path: path) { name, _ in events.append(name) }
        let status = try await qmp.execute("query-status")
        #expect(status["status"]?.stringValue == "running")
        #expect(events.items.contains("RESUME"))
        await #expect {
            try await qmp.execute("bogus")
        } throws: { error in
            guard case QMPError.command(_, let cls, _) = error else { return false }
            return cls == "CommandNotFound"
        }
        qmp.close()
    }

    @Test("a closed socket fails pending and later commands instead of hanging")
    func disconnect() async throws {
        let path = "/tmp/bh-qmp-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        try fakeQMP(path: path) { line in line.contains("qmp_capabilities") ? "{\"return\": {}, \"id\": \(idOf(line))}" : nil }
        let qmp = try await QMPClient.connect(path: path)
        await #expect(throws: QMPError.self) { try await qmp.execute("stop") }
        await #expect(throws: QMPError.self) { try await qmp.execute("cont") }
    }

    @Test("connecting to nothing is a clear error")
    func noSocket() async {
        await #expect(throws: QMPError.self) { _ = try await QMPClient.connect(path: "/tmp/bh-no-such-qmp.sock") }
    }
}

final class Collected: Sendable {
    private let m = Locked<[String]>([])
    func append(_ s: String) { m.with { $0.append(s) } }
    var items: [String] { m.with { $0 } }
}

final class Locked<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func with<R>(_ body: (inout T) -> R) -> R { m.withLock { body(&$0) } }
}
