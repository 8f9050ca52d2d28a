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
            var plain = Samples(
                "QEMU start: spawn, unconfined", how: "clone (CLONE_VM|CLONE_VFORK) + exec of /bin/true in a new session, waited for")
            var jailed = Samples(
                "QEMU start: spawn, confined",
                how: "the same as a sandbox's own uid in bhatti-vmm's group, in a private mount namespace (tmpfs masks + binds a VM gets)")
            var handOver = Samples(
                "QEMU start: hand the directory over", how: "chown of a sandbox directory and its 5 files to the sandbox's uid")
            // The engine's own cgroups (its limits, its way in), under a sandbox id of the bench's.
            let cgroups = Cgroups(dataDirectory: dataDirectory)
            let placementID = "bench-placement"
            // Not measured where the group cannot be made (not root, no cgroup filesystem).
            let entry = (try? cgroups?.prepare(id: placementID, cpus: 1, memoryMB: 512)) ?? nil
            defer {
                if case .v2(let fd)? = entry { close(fd) }
                cgroups?.remove(id: placementID)
            }
            var joined = Samples(
                "QEMU start: spawn into its cgroup",
                how:
                    "spawn of a sleeping child until it runs in its cgroup: it enters before exec (v1: writes 0 to tasks; v2: clone3 into it), as QEMU does; each after 50 ms of quiet"
            )
            var moved = Samples(
                "QEMU start: spawn, then move into a cgroup",
                how:
                    "the same child moved in from outside after it started (pid to cgroup.procs): how QEMU was placed before (global lock, RCU grace period); each after 50 ms of quiet"
            )
            /// Spawn to "in its cgroup"; the child is ended outside the measurement.
            func placed(_ cgroups: Cgroups, _ entry: CgroupEntry, join: Bool) throws -> Duration {
                var s = Spawn(path: "/bin/sleep", arguments: ["sleep", "5"], environment: [])
                s.newSession = true
                if join { s.cgroup = entry }
                var pid: Int32 = 0
                let d = try measure {
                    pid = try s.run()
                    if !join { try cgroups.migrate(pid: pid, id: placementID) }
                }
                kill(pid, SIGKILL)
                _ = try waitForExit(pid: pid)
                return d
            }
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
                // A VM starts after the host has been quiet: the kernel's lock is slow only for the first
                // move after a while (back to back, its RCU state stays warm), so each placement sample
                // follows 50 ms of quiet, a quarter of the samples.
                if let cgroups, let entry, handOver.values.count % 4 == 0 {
                    usleep(50_000)
                    joined.add(try placed(cgroups, entry, join: true))
                    usleep(50_000)
                    moved.add(try placed(cgroups, entry, join: false))
                }
            }
            let added = jailed.percentile(0.5) - plain.percentile(0.5) + handOver.percentile(0.5)
            let placement =
                entry == nil
                ? ""
                : String(
                    format:
                        " Placing QEMU in its cgroup: %.2f ms p50 as the child enters it itself, %.2f ms when moved in from outside (as before).",
                    joined.percentile(0.5), moved.percentile(0.5))
            let note =
                String(
                    format:
                        "confinement: adds %.2f ms p50 to each QEMU start (create or cold restore): the confined spawn %.2f ms against %.2f ms, plus %.3f ms to hand the directory over (target ≤ 20 ms). Exec and warm resume run no confinement code.",
                    added, jailed.percentile(0.5), plain.percentile(0.5), handOver.percentile(0.5)) + placement
            return ([plain, jailed, handOver] + (entry == nil ? [] : [joined, moved]), note)
        }
    }
}
