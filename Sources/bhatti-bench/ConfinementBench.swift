import BhattiEngine
import BhattiImage
import BhattiSystem
import Foundation

/// What confining a QEMU adds to each start (create, cold restore): the same spawn of a short-lived
/// program with and without the VMM user and the mount namespace a VM gets, plus handing its directory
/// over. Exec and warm resume run no confinement code at all (seccomp's share of exec is in the exec rows).
struct ConfinementBench {
    let samples: Int

    func run(dataDirectory: String, imageDirectory: String) async throws -> (rows: [Samples], note: String) {
        guard let user = try await VMMUser.ensure("bhatti-vmm", accelerator: .tcg) else {
            return ([], "confinement: not measured (the bench is not root, so QEMU would not be confined)")
        }
        let confinement = VMMConfinement(user: user, dataDirectory: dataDirectory)
        let image = try GuestImage.open(imageDirectory)
        let sandbox = dataDirectory + "/sandboxes/bench-confinement"
        try FileManager.default.createDirectory(atPath: sandbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: sandbox) }
        for name in ["disk.qcow2", "memory", "vm.json", "qemu.pid", "qemu.log"] {
            _ = FileManager.default.createFile(atPath: sandbox + "/" + name, contents: Data("x".utf8))
        }
        let jail = confinement.jail(sandbox: sandbox, files: [image.bootKernelPath, image.initramfsPath, image.rootfsPath])
        let n = samples
        return try await Blocking.run(name: "confinement-bench") {
            var plain = Samples("QEMU start: spawn, unconfined", how: "fork + exec of /bin/true in a new session, waited for")
            var jailed = Samples("QEMU start: spawn, confined", how: "the same as a sandbox's own uid in bhatti-vmm's group, in a private mount namespace (tmpfs masks + binds a VM gets)")
            var handOver = Samples("QEMU start: hand the directory over", how: "chown of a sandbox directory and its 5 files to the sandbox's uid")
            func spawn(_ confined: Bool) throws -> Duration {
                var s = Spawn(path: "/bin/true", arguments: ["true"], environment: [])
                s.newSession = true
                if confined {
                    s.user = (Int32(bitPattern: confinement.uid(for: "bench-confinement")), Int32(bitPattern: user.gid), user.groups)
                    s.mountJail = jail
                }
                return try measure {
                    let pid = try s.run()
                    let t = try waitForExit(pid: pid)
                    guard t == .exited(0) else { throw Errno(rawValue: EINVAL) }
                }
            }
            for _ in 0..<n {
                plain.add(try spawn(false))
                jailed.add(try spawn(true))
                handOver.add(try measure { try confinement.handOver(sandbox, to: confinement.uid(for: "bench-confinement")) })
            }
            let added = jailed.percentile(0.5) - plain.percentile(0.5) + handOver.percentile(0.5)
            let note = String(
                format: "confinement: adds %.2f ms p50 to each QEMU start (create or cold restore): the confined spawn %.2f ms against %.2f ms, plus %.3f ms to hand the directory over (target ≤ 20 ms). Exec and warm resume run no confinement code.",
                added, jailed.percentile(0.5), plain.percentile(0.5), handOver.percentile(0.5))
            return ([plain, jailed, handOver], note)
        }
    }
}
