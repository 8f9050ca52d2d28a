import BhattiSystem
import Foundation
import Glibc
import Testing

/// A spawned child starts in its cgroup (no migration by the parent afterwards), on either hierarchy.
@Suite("Spawn into a cgroup", .enabled(if: getuid() == 0, "needs root to make cgroups"))
struct SpawnCgroupTests {
    /// A v1 hierarchy mounted here (the pids controller), or nil.
    static let v1 = ["/sys/fs/cgroup/pids"].first { FileManager.default.fileExists(atPath: $0 + "/tasks") }
    /// A v2 hierarchy: the whole tree on a unified host, `unified/` on a hybrid one.
    static let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].first {
        FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") && !FileManager.default.fileExists(atPath: $0 + "/tasks")
    }

    @Test("v1: the child joins the group's tasks itself before exec", .enabled(if: v1 != nil))
    func joinsV1() throws {
        let dir = try #require(Self.v1) + "/bhatti-spawn-test-\(getpid())"
        try makeGroup(dir)
        defer { rmdir(dir) }
        var spawn = Spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [])
        spawn.cgroup = .v1([dir + "/tasks"])
        let pid = try spawn.run()
        defer { reap(pid) }
        #expect(try membership(pid).contains(":pids:/bhatti-spawn-test-\(getpid())"))
    }

    @Test("v2: the child is created inside the group (clone3)", .enabled(if: v2 != nil))
    func createdInV2() throws {
        let dir = try #require(Self.v2) + "/bhatti-spawn-test-\(getpid())"
        try makeGroup(dir)
        defer { rmdir(dir) }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        var spawn = Spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [])
        spawn.cgroup = .v2(fd)
        let pid = try spawn.run()
        defer { reap(pid) }
        #expect(try membership(pid).contains("0::/bhatti-spawn-test-\(getpid())"))
    }

    @Test("a group the child cannot join fails the spawn with its errno (fail closed)", .enabled(if: v1 != nil))
    func missingGroupFails() throws {
        var spawn = Spawn(path: "/bin/true", arguments: ["true"], environment: [])
        spawn.cgroup = .v1([try #require(Self.v1) + "/bhatti-no-such-group/tasks"])
        #expect(throws: Errno.noEntry) { _ = try spawn.run() }
    }

    private func makeGroup(_ dir: String) throws {
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { throw Errno.current }
    }

    private func membership(_ pid: Int32) throws -> String {
        try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
    }

    private func reap(_ pid: Int32) {
        kill(pid, SIGKILL)
        _ = try? waitForExit(pid: pid)
    }
}
