import BhattiSystem
import Foundation
import Testing

@testable import BhattiEngine

@Suite("VMM confinement: the mount view")
struct VMMConfinementTests {
    @Test("masks keep the outermost of nested paths, once each")
    func outermost() {
        #expect(VMMConfinement.outermost(["/tmp/a/b", "/tmp", "/run", "/tmp/a", "/run", "/var/lib/x"]) == ["/run", "/tmp", "/var/lib/x"])
        #expect(VMMConfinement.outermost(["/tmpfoo", "/tmp"]) == ["/tmp", "/tmpfoo"], "a sibling with a common prefix is not inside")
    }

    @Test("each sandbox's uid is stable, its own, and in the range above distributions' and containers' uids")
    func uids() {
        let c = VMMConfinement(user: VMMUser(name: "x", uid: 999, gid: 999, groups: []), dataDirectory: "/d")
        let ids = (0..<2000).map { String(format: "%016llx", UInt64($0) &* 0x9E37_79B9_7F4A_7C15) }
        let uids = ids.map(c.uid(for:))
        #expect(uids.allSatisfy { $0 >= 0x7000_0000 && $0 < 0x8000_0000 })
        #expect(Set(uids).count == ids.count, "2000 sandboxes, 2000 uids")
        #expect(c.uid(for: ids[0]) == uids[0])
    }

    @Test("a directory others cannot search on the way to a bind is masked, so the bind is reachable")
    func closedAncestors() throws {
        let base = "/tmp/bhatti-vmmtest-\(getpid())"
        try FileManager.default.createDirectory(atPath: base + "/open/closed/inner", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        chmod(base, 0o755)
        chmod(base + "/open", 0o755)
        chmod(base + "/open/closed", 0o700)
        chmod(base + "/open/closed/inner", 0o755)  // (the test process's umask may be 077)
        #expect(VMMConfinement.closedAncestors(of: base + "/open/closed/inner/file") == [base + "/open/closed"])
    }

    @Test("the view: the sandbox read-write, the image's directories read-only, the data directory and private places masked")
    func jail() throws {
        let data = "/tmp/bhatti-vmmjail-\(getpid())"
        try FileManager.default.createDirectory(atPath: data + "/sandboxes/abc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: data + "/images/default/bases", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let confinement = VMMConfinement(user: VMMUser(name: "x", uid: 999, gid: 999, groups: []), dataDirectory: data)
        let bases = data + "/images/default/bases"
        let jail = confinement.jail(
            sandbox: data + "/sandboxes/abc", files: [bases + "/k.vmlinux", bases + "/i.initramfs", bases + "/r.ext4"])
        #expect(
            jail.binds == [
                MountJail.Bind(source: data + "/sandboxes/abc", target: data + "/sandboxes/abc", readOnly: false),
                MountJail.Bind(source: bases, target: bases, readOnly: true),
            ])
        // The data directory lies under /tmp here: the /tmp mask hides it already.
        #expect(jail.masks.contains("/tmp") && !jail.masks.contains(data))
        #expect(jail.masks.contains("/run"))
    }
}
