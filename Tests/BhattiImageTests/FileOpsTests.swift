import BhattiSystem
import Foundation
import Glibc
import Testing

@testable import BhattiImage

@Suite struct FileOpsTests {
    @Test func atomicWriteReplacesAndLeavesNoTempFile() throws {
        let dir = TemporaryDirectory("atomic")
        let path = "\(dir.path)/f"
        try FileOps.writeAtomically(Array("one".utf8), to: path)
        try FileOps.writeAtomically(Array("two".utf8), to: path, permissions: 0o440)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        #expect(!dir.exists("f.tmp"))
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o440)
    }

    @Test func mountPathsAreUnescaped() {
        #expect(FileOps.unescapeMountPath("/tmp/a\\040b") == "/tmp/a b")
        #expect(FileOps.unescapeMountPath("/plain") == "/plain")
    }

    /// A debootstrap that died leaves /proc mounted in its target; removal must not walk into it.
    @Test(.enabled(if: geteuid() == 0, "needs root to mount"))
    func treeWithAMountInsideIsRefusedUntilUnmounted() throws {
        let dir = TemporaryDirectory("mounted")
        let tree = "\(dir.path)/tree"
        try FileOps.makeDirectory("\(tree)/proc")
        guard mount("tmpfs", "\(tree)/proc", "tmpfs", 0, nil) == 0 else {
            Issue.record("mount tmpfs: \(String(cString: strerror(errno)))")
            return
        }
        dir.write("tree/proc/canary", "must survive the refused removal")
        #expect(FileOps.mountPoints(under: tree) == ["\(tree)/proc"])
        #expect(throws: ImageError.self) { try FileOps.remove(tree) }
        #expect(dir.exists("tree/proc/canary"))

        try FileOps.unmountAll(under: tree)
        #expect(FileOps.mountPoints(under: tree).isEmpty)
        try FileOps.remove(tree)
        #expect(!dir.exists("tree"))
    }

    @Test func allocatedBytesCountsHardLinksOnce() throws {
        let dir = TemporaryDirectory("size")
        let file = dir.write("a", String(repeating: "x", count: 100_000))
        let single = DiskSpace.allocatedBytes(dir.path)
        #expect(link(file, "\(dir.path)/b") == 0)
        #expect(DiskSpace.allocatedBytes(dir.path) == single)
        #expect(single >= 100_000)
    }
}
