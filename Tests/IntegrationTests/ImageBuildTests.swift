import BhattiDaemon
import BhattiSystem
import Foundation
import Glibc
import Testing

/// `bhatti image build NAME` refusing before it builds anything: a second build of one name while the
/// first holds its staging directory, and a name a user's import or save already has.
@Suite("Image build refusals")
struct ImageBuildTests {
    static let root = FileManager.default.currentDirectoryPath

    static func build(_ name: String, data: String) throws -> CLITests.Run {
        let lohar = ProcessInfo.processInfo.environment["BHATTI_TEST_LOHAR"] ?? root + "/.build/static/release/lohar"
        return try CLITests.run(
            [
                "image", "build", name, "--data-dir", data, "--packages", "curl", "--lohar", lohar, "--init-source",
                root + "/guest/init.c",
            ], socket: "/nonexistent", key: "", stdin: nil)
    }

    @Test("a build of a name another build is making fails at once, saying so; the other's lock is untouched")
    func concurrentBuild() async throws {
        let data = "/tmp/bhatti-build-busy-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let staging = data + "/images/.build-twice"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        // The first build: its lock on the staging directory, held by this process.
        let fd = open(staging + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let run = try await Blocking.run { try Self.build("twice", data: data) }
        #expect(run.status != 0 && run.stderr.contains("another image build is running in \(staging)"), "\(run)")
        #expect(!FileManager.default.fileExists(atPath: data + "/images/twice"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging) == [".lock"])
    }

    @Test("a build never replaces a user's import or save of that name")
    func userImageKept() async throws {
        let data = "/tmp/bhatti-build-taken-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        for (name, registry) in [
            ("theirs", RegistryManifest(owner: "u_ann", source: "import")), ("saved", RegistryManifest(owner: "u_bob", source: "save")),
        ] {
            let dir = data + "/images/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let bytes = try JSONEncoder().encode(registry)
            #expect(FileManager.default.createFile(atPath: dir + "/" + RegistryManifest.fileName, contents: bytes))
            let run = try await Blocking.run { try Self.build(name, data: data) }
            #expect(run.status != 0 && run.stderr.contains("image \(name) is a private \(registry.source) of user"), "\(run)")
            #expect(FileManager.default.contents(atPath: dir + "/" + RegistryManifest.fileName) == bytes)
            #expect(!FileManager.default.fileExists(atPath: data + "/images/.build-" + name))
        }
    }
}
