import Foundation
import Glibc
import Testing

@testable import BhattiImage

/// What an imported tree gets before it becomes `rootfs.ext4`: lohar, the `lohar` user, its home,
/// `/workspace`, mount points; and no symlink of the tree is followed while adding them.
@Suite("Bootable image preparation")
struct BootableImageTests {
    static func tree() throws -> String {
        let dir = "/tmp/bhatti-boot-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        return dir
    }

    @Test("adds lohar, the user (once), /home/lohar, /workspace and mount points")
    func prepare() throws {
        let tree = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: tree) }
        try Data("root:x:0:0:root:/root:/bin/sh".utf8).write(to: URL(fileURLWithPath: tree + "/etc/passwd"))
        let lohar = tree + ".lohar"
        try Data("agent".utf8).write(to: URL(fileURLWithPath: lohar))
        defer { unlink(lohar) }
        try BootableImage.prepare(tree: tree, lohar: lohar)
        try BootableImage.prepare(tree: tree, lohar: lohar)
        let passwd = try String(contentsOfFile: tree + "/etc/passwd", encoding: .utf8)
        #expect(passwd == "root:x:0:0:root:/root:/bin/sh\nlohar:x:1000:1000::/home/lohar:/bin/sh\n")
        #expect(try String(contentsOfFile: tree + "/etc/group", encoding: .utf8) == "lohar:x:1000:\n")
        #expect(FileManager.default.contents(atPath: tree + "/usr/local/bin/lohar") == Data("agent".utf8))
        for dir in ["home/lohar", "workspace", "proc", "sys", "dev", "tmp", "run"] {
            var isDir: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: tree + "/" + dir, isDirectory: &isDir) && isDir.boolValue, "\(dir)")
        }
    }

    @Test("a symlinked directory on the way or a symlinked passwd is refused, and its target is untouched")
    func symlinksRefused() throws {
        let tree = try Self.tree()
        let outside = try Self.tree()
        defer {
            try? FileManager.default.removeItem(atPath: tree)
            try? FileManager.default.removeItem(atPath: outside)
        }
        #expect(symlink(outside, tree + "/workspace") == 0)
        #expect(throws: ImageError.self) { _ = try BootableImage.directory(tree, "workspace", owner: nil) }
        #expect(symlink(outside + "/etc/passwd", tree + "/etc/passwd") == 0)
        #expect(throws: ImageError.self) {
            try BootableImage.appendLine(tree + "/etc/passwd", name: "lohar", "lohar:x:1000:1000::/:/bin/sh")
        }
        #expect(!FileManager.default.fileExists(atPath: outside + "/etc/passwd"))
    }
}
