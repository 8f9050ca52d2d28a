import BhattiSystem
import Foundation
import Testing

@testable import BhattiHTTP

/// The API socket gets its mode without touching the process-wide umask (a child spawned meanwhile
/// would inherit it: a compiler run by another test once produced a non-executable binary).
@Suite("Unix socket mode")
struct UnixSocketModeTests {
    static func processUmask() -> String? {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Umask:") }.map(String.init)
    }

    @Test("listen(unixPath:mode:) creates the socket with its mode and leaves the umask unchanged")
    func modeWithoutUmask() throws {
        let before = Self.processUmask()
        let path = temporarySocketPath()
        let server = HTTPServer(handler: echoHandler)
        defer { server.shutdown() }
        try server.listen(unixPath: path, mode: 0o600)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(Self.processUmask() == before)
    }
}
