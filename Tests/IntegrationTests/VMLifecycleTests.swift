import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Real VMs under QEMU, through the real daemon API. Serialized: two cores cannot boot many at once.
@Suite("Real VMs", .serialized, .timeLimit(.minutes(10)))
struct VMLifecycleTests {
    @Test("boot, exec with stdout/stderr/stdin/exit codes, user, idempotent create, destroy leaves nothing")
    func bootExecDestroy() async throws {
        let d = try await TestDaemon.start()
        do {
            let sb = try await d.create("dev", cpus: 2, memoryMB: 1024)
            #expect(sb.state == "hot")
            #expect(sb.cpus == 2)

            let uname = try await d.exec("dev", ["uname", "-a"])
            #expect(uname.exitCode == 0)
            #expect(uname.stdout.hasPrefix("Linux dev 6."), "\(uname.stdout)")
            #expect(try await d.exec("dev", ["nproc"]).stdout == "2\n")

            let mixed = try await d.exec("dev", ["sh", "-c", "echo out; echo err >&2; exit 7"])
            #expect(mixed.exitCode == 7)
            #expect(mixed.stdout == "out\n")
            #expect(mixed.stderr == "err\n")
            #expect(try await d.exec("dev", ["cat"], stdin: "from stdin").stdout == "from stdin")
            #expect(try await d.exec("dev", ["false"]).exitCode == 1)

            let missing = try await d.exec("dev", ["no-such-command-here"])
            #expect(missing.exitCode == 127)
            #expect(missing.stderr.contains("no-such-command-here: command not found"))
            #expect(try await d.exec("dev", ["sh", "-c", "kill -9 $$"]).exitCode == 137)
            #expect(try await d.exec("dev", ["sh", "-c", "kill -TERM $$"]).exitCode == 143)

            // Commands run as lohar (1000) in /workspace, with passwordless sudo.
            #expect(try await d.exec("dev", ["sh", "-c", "id -u; pwd"]).stdout == "1000\n/workspace\n")
            #expect(try await d.exec("dev", ["sudo", "-n", "id", "-u"]).stdout == "0\n")
            #expect(try await d.exec("dev", ["python3", "-c", "print(6*7)"]).stdout == "42\n")

            // Writes persist across execs (same disk), and the timeout kills.
            _ = try await d.exec("dev", ["sh", "-c", "echo kept > /workspace/f"])
            #expect(try await d.exec("dev", ["cat", "/workspace/f"]).stdout == "kept\n")
            let slow = try await d.exec("dev", ["sleep", "3600"], timeout: 1)
            #expect(slow.exitCode == 124)
            // Killed, not left to run out: no such process in the guest.
            #expect(try await d.exec("dev", ["pgrep", "-f", "sleep 3600"]).exitCode == 1)

            // Idempotent create: same name returns the existing sandbox.
            let again = try await d.call("POST", "/v1/sandboxes", json: "{\"name\":\"dev\"}")
            #expect(again.status == 200)
            #expect(again.headers["X-Bhatti-Existing"] == "true")
            #expect(try JSONDecoder().decode(SandboxDTO.self, from: Data(again.body)).id == sb.id)
            // By id works as well as by name.
            #expect(try await d.get(sb.id).name == "dev")

            let pid = try #require(await d.daemon.engine.pid(of: sb.id))
            #expect(processExists(pid))
            let dir = d.dataDirectory + "/sandboxes/" + sb.id
            #expect(FileManager.default.fileExists(atPath: dir + "/agent.sock"))
            let gone = try await d.call("DELETE", "/v1/sandboxes/dev")
            #expect(gone.status == 200)
            #expect(!processExists(pid))
            #expect(qemuProcesses(mentioning: d.dataDirectory).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir))
            #expect(try await d.call("GET", "/v1/sandboxes/dev").status == 404)
            #expect(try FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/sandboxes").isEmpty)
        } catch {
            await d.stop()
            throw error
        }
        await d.stop()
        #expect(qemuProcesses(mentioning: d.dataDirectory).isEmpty)
    }

    @Test("two VMs at once are separate machines")
    func twoAtOnce() async throws {
        try await withDaemon { d in
            async let a = d.create("one")
            async let b = d.create("two")
            let (one, two) = try await (a, b)
            #expect(one.id != two.id)
            let bootA = try await d.exec("one", ["cat", "/proc/sys/kernel/random/boot_id"]).stdout
            let bootB = try await d.exec("two", ["cat", "/proc/sys/kernel/random/boot_id"]).stdout
            #expect(bootA.count == 37)
            #expect(bootA != bootB)
            _ = try await d.exec("one", ["sh", "-c", "echo only-in-one > /workspace/x"])
            #expect(try await d.exec("two", ["cat", "/workspace/x"]).exitCode != 0)
            let list = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(Set(list.map(\.name)) == ["one", "two"])
            #expect(try await d.call("DELETE", "/v1/sandboxes/one").status == 200)
            #expect(try await d.call("DELETE", "/v1/sandboxes/two").status == 200)
            #expect(qemuProcesses(mentioning: d.dataDirectory).isEmpty)
        }
    }

    @Test("QEMU dying under a running VM is noticed and reported")
    func qemuCrash() async throws {
        try await withDaemon { d in
            let sb = try await d.create("crashy")
            let pid = try #require(await d.daemon.engine.pid(of: sb.id))
            kill(pid, SIGKILL)
            _ = try await eventually(interval: .milliseconds(50)) { try await d.get("crashy").state == "error" }
            let after = try await d.get("crashy")
            #expect(after.state == "error")
            #expect(after.stateReason?.contains("QEMU ended unexpectedly: killed by signal 9") == true, "\(after.stateReason ?? "")")
            let exec = try await d.call("POST", "/v1/sandboxes/crashy/exec", json: "{\"cmd\":[\"true\"]}")
            #expect(exec.status == 409)
            #expect(try await d.call("DELETE", "/v1/sandboxes/crashy").status == 200)
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/sandboxes/" + sb.id))
        }
    }

    @Test("streamed exec delivers output as it is produced")
    func ndjsonStreaming() async throws {
        try await withDaemon { d in
            _ = try await d.create("stream")
            var headers = d.authHeaders
            headers.set("Accept", "application/x-ndjson")
            let client = d.client
            let h = headers
            // The command writes its second line only once the client has had the first: output held
            // back until the end would leave it waiting (for the suite's time limit).
            let go = Array(#"{"cmd":["touch","/tmp/go"]}"#.utf8)
            let auth = d.authHeaders
            let (body, touched) = try await Blocking.run { () throws -> ([UInt8], String) in
                var body: [UInt8] = []
                var touched = "not sent"
                _ = try client.stream(
                    method: "POST", path: "/v1/sandboxes/stream/exec", headers: h,
                    body: Array(
                        "{\"cmd\":[\"sh\",\"-c\",\"echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second >&2; exit 3\"]}"
                            .utf8)
                ) { chunk in
                    if touched == "not sent" {
                        do {
                            let r = try client.send(method: "POST", path: "/v1/sandboxes/stream/exec", headers: auth, body: go)
                            touched = "\(r.status) \(r.text)"
                        } catch {
                            touched = "failed: \(error)"
                        }
                    }
                    body += chunk
                }
                return (body, touched)
            }
            #expect(touched.hasPrefix("200 "), "the exec that lets the command go on: \(touched)")
            let lines = String(decoding: body, as: UTF8.self).split(separator: "\n").map {
                try? JSONDecoder().decode(ExecStreamLine.self, from: Data($0.utf8))
            }
            #expect(lines.map { $0?.type } == ["stdout", "stderr", "exit"])
            #expect(lines[0]?.data == "first\n")
            #expect(lines[2]?.exitCode == 3)
            #expect(try await d.call("DELETE", "/v1/sandboxes/stream").status == 200)
        }
    }
}

/// Host hardening visible from the host: every QEMU runs unprivileged, in its own mount namespace,
/// under a seccomp filter and in its own cgroup.
@Suite("QEMU confinement")
struct ConfinementTests {
    @Test(
        "QEMU's cgroup caps CPU to its vCPUs plus one for the VMM, memory to its RAM plus the VMM overhead, and tasks; it goes with the sandbox"
    )
    func cgroup() async throws {
        try await withDaemon { d in
            let sb = try await d.create("limited", cpus: 2, memoryMB: 512)
            let pid = try #require(await d.daemon.engine.pid(of: sb.id))
            let lines = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8).split(separator: "\n").map(String.init)
            func path(_ controller: String) -> String? {
                lines.first {
                    $0.split(separator: ":").dropFirst().first.map { $0.split(separator: ",").contains(Substring(controller)) } ?? false
                }
                .map { String($0.split(separator: ":", maxSplits: 2).last ?? "") }
            }
            func read(_ file: String) throws -> String {
                try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
            var groupDirectory: String
            if unified {
                let p = try #require(lines.first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) })
                groupDirectory = "/sys/fs/cgroup" + p
                #expect(try read(groupDirectory + "/memory.max") == String((512 + 384) << 20))
                #expect(try read(groupDirectory + "/cpu.max") == "300000 100000")
                #expect(try read(groupDirectory + "/pids.max") == "256")
            } else {
                let memory = try #require(path("memory"))
                let cpu = try #require(path("cpu"))
                let pids = try #require(path("pids"))
                #expect(memory.hasSuffix("/" + sb.id) && cpu.hasSuffix("/" + sb.id) && pids.hasSuffix("/" + sb.id))
                groupDirectory = "/sys/fs/cgroup/memory" + memory
                #expect(try read(groupDirectory + "/memory.limit_in_bytes") == String((512 + 384) << 20))
                #expect(try read("/sys/fs/cgroup/cpu" + cpu + "/cpu.cfs_quota_us") == "300000")
                #expect(try read("/sys/fs/cgroup/pids" + pids + "/pids.max") == "256")
            }
            // Still confined after a cold cycle (a new QEMU), and gone with the sandbox.
            #expect(try await d.call("POST", "/v1/sandboxes/limited/stop").status == 200)
            #expect(try await d.exec("limited", ["true"]).exitCode == 0)
            let restored = try #require(await d.daemon.engine.pid(of: sb.id))
            #expect(try String(contentsOfFile: "/proc/\(restored)/cgroup", encoding: .utf8).contains("/" + sb.id))
            #expect(try await d.call("DELETE", "/v1/sandboxes/limited").status == 200)
            #expect(!FileManager.default.fileExists(atPath: groupDirectory))
        }
    }

    @Test("a guest that allocates beyond its RAM meets the OOM killer inside the guest; QEMU and the host carry on")
    func guestOOM() async throws {
        try await withDaemon { d in
            let sb = try await d.create("hungry", memoryMB: 256)
            let pid = try #require(await d.daemon.engine.pid(of: sb.id))
            // 400 MiB touched page by page in a 256 MiB guest: the guest kernel kills the hog.
            let hog = try await d.exec(
                "hungry", ["python3", "-c", "b = bytearray(400 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('survived')"],
                timeout: 120)
            #expect(hog.exitCode != 0 && !hog.stdout.contains("survived"), "exit \(hog.exitCode): \(hog.stdout) \(hog.stderr)")
            #expect(await d.daemon.engine.pid(of: sb.id) == pid && processExists(pid), "QEMU is the same process")
            #expect(try await d.exec("hungry", ["echo", "alive"]).stdout == "alive\n")
        }
    }

    @Test("disk_mb sizes the guest's disk; a guest that fills it gets ENOSPC inside the guest; the host's overlay stops at disk_mb")
    func diskFull() async throws {
        try await withDaemon { d in
            // Below the image's own file system: refused before anything boots.
            let small = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"tiny","disk_mb":512}"#)
            #expect(small.status == 400 && small.text.contains("disk must be at least"), "\(small.text)")
            let created = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"filler","memory_mb":256,"disk_mb":1024}"#)
            #expect(created.status == 201, "\(created.text)")
            let sb = try JSONDecoder().decode(SandboxDTO.self, from: Data(created.body))
            #expect(sb.diskMB == 1024)
            // The file system grew online to the new size (ext4 keeps a little for itself).
            let df = try await d.exec("filler", ["sh", "-c", "df -B1M --output=size / | tail -1"])
            let size = try #require(Int(df.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(df.stdout)")
            #expect((960...1024).contains(size), "root file system \(size) MiB on a 1024 MiB disk")
            let fill = try await d.exec(
                "filler", ["sh", "-c", "dd if=/dev/zero of=/workspace/fill bs=1M 2>&1; echo exit=$?"], timeout: 300)
            #expect(
                fill.stdout.contains("No space left on device") && !fill.stdout.contains("exit=0"),
                "exit \(fill.exitCode) after \(fill.durationMs) ms: \(fill.stdout) \(fill.stderr)")
            #expect(try await d.exec("filler", ["echo", "alive"]).stdout == "alive\n")
            // The overlay holds at most what the guest's disk can (its virtual size, disk_mb), plus qcow2 metadata.
            let overlay = d.dataDirectory + "/sandboxes/\(sb.id)/disk.qcow2"
            let info = try await Blocking.run { try runTool("/usr/bin/qemu-img", ["info", "--output=json", "-U", overlay]) }
            let json = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
            let virtual = try #require(json["virtual-size"] as? Int)
            let actual = try #require(json["actual-size"] as? Int)
            #expect(virtual == 1024 << 20)
            #expect(actual <= virtual + (64 << 20), "overlay \(actual) bytes for a \(virtual)-byte disk")
            // The size survives a cold cycle.
            #expect(try await d.call("POST", "/v1/sandboxes/filler/stop").status == 200)
            #expect(try await d.exec("filler", ["sh", "-c", "df -B1M --output=size / | tail -1"]).stdout == df.stdout)
            // An edit grows it (never shrinks it), only while hot: an edit never wakes a sandbox.
            #expect(try await d.call("PATCH", "/v1/sandboxes/filler", json: #"{"disk_mb":900}"#).status == 400)
            #expect(try await d.call("POST", "/v1/sandboxes/filler/pause").status == 200)
            #expect(try await d.call("PATCH", "/v1/sandboxes/filler", json: #"{"disk_mb":1536}"#).status == 409)
            #expect(try await d.call("POST", "/v1/sandboxes/filler/start").status == 200)
            let grown = try await d.call("PATCH", "/v1/sandboxes/filler", json: #"{"disk_mb":1536}"#)
            #expect(grown.status == 200 && grown.text.contains(#""disk_mb":1536"#), "\(grown.text)")
            let after = try await d.exec("filler", ["sh", "-c", "df -B1M --output=size,avail / | tail -1"]).stdout.split(separator: " ")
                .compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect(after.count == 2 && (1440...1536).contains(after[0]) && after[1] >= 400, "size and free MiB after growing: \(after)")
            #expect(try await d.get("filler").diskMB == 1536)
        }
    }

    @Test(
        "a user's disk limits throttle their sandboxes' disks (QEMU's block throttling), kept across a cold cycle; without their own, the daemon's default applies"
    )
    func diskThrottle() async throws {
        try await withDaemon(configure: { $0.ioLimits = IOLimits(diskIOPS: 500) }) { d in
            let set = try await d.call("PATCH", "/v1/users/admin", json: #"{"io_limits":{"disk_bytes_per_s":4194304,"disk_iops":400}}"#)
            #expect(set.status == 200 && set.text.contains(#""disk_bytes_per_s":4194304"#), "\(set.text)")
            let bad = try await d.call("PATCH", "/v1/users/admin", json: #"{"io_limits":{"disk_iops":-1}}"#)
            #expect(bad.status == 400, "\(bad.text)")
            let sb = try await d.create("slowdisk", memoryMB: 256)
            func commandLine() async throws -> String {
                let pid = try #require(await d.daemon.engine.pid(of: sb.id))
                return String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
            }
            #expect(try await commandLine().contains("throttling.bps-total=4194304,throttling.iops-total=400"))
            // 12 MiB of direct writes at 4 MiB/s: about 3 s (unthrottled, well under 1 s here). Timed on the
            // host's clock, which QEMU's throttling keeps, not the emulated guest's, which can run slow:
            // a lower bound that holds however loaded the host is.
            func write() async throws -> Double {
                var out: ExecResultDTO?
                let took = try await ContinuousClock().measure {
                    out = try await d.exec(
                        "slowdisk", ["sh", "-c", "dd if=/dev/zero of=/workspace/t bs=1M count=12 oflag=direct 2>&1; rm -f /workspace/t"],
                        timeout: 120)
                }
                #expect(out?.stdout.contains("12582912 bytes") == true, "\(out?.stdout ?? "")")
                return Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
            }
            let seconds = try await write()
            #expect(seconds >= 2.0, "12 MiB took \(seconds) s at 4 MiB/s")
            #expect(try await d.call("POST", "/v1/sandboxes/slowdisk/stop").status == 200)
            #expect(try await d.exec("slowdisk", ["true"]).exitCode == 0)
            #expect(try await commandLine().contains("throttling.bps-total=4194304"), "the restored QEMU keeps the limit")
            // Back to the daemon's default (500 IOPS here, no byte limit): a new sandbox gets that.
            let reset = try await d.call("PATCH", "/v1/users/admin", json: #"{"io_limits":null}"#)
            #expect(reset.status == 200 && !reset.text.contains("io_limits\":{"), "\(reset.text)")
            let fast = try await d.create("fastdisk", memoryMB: 256)
            let pid = try #require(await d.daemon.engine.pid(of: fast.id))
            let line = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
            #expect(line.contains("throttling.iops-total=500") && !line.contains("bps-total"), "\(line)")
        }
    }

    @Test(
        "each QEMU runs unprivileged with a uid of its own, in bhatti-vmm's group, with no network of its own and a mount namespace that shows only its sandbox's directory"
    )
    func unprivileged() async throws {
        try await withDaemon { d in
            let sb = try await d.create("jailed")
            let neighbour = try await d.create("neighbour")
            func ids(_ pid: Int32, _ field: String) throws -> [String] {
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8).split(separator: "\n")
                return try #require(status.first { $0.hasPrefix(field + ":") }).split(separator: "\t").dropFirst().map(String.init)
            }
            func check() async throws {
                let pid = try #require(await d.daemon.engine.pid(of: sb.id))
                let uids = try ids(pid, "Uid")
                #expect(uids.count == 4 && Set(uids).count == 1, "real, effective, saved and fs uid: \(uids)")
                let uid = try #require(UInt32(uids[0]))
                #expect(uid >= 0x7000_0000 && uid < 0x8000_0000, "uid \(uid) outside the sandbox range")
                // Not the neighbour's: QEMUs sharing a uid could ptrace and signal each other.
                let neighbourPID = try #require(await d.daemon.engine.pid(of: neighbour.id))
                #expect(try ids(neighbourPID, "Uid")[0] != uids[0])
                let group = try #require(getgrnam("bhatti-vmm")).pointee.gr_gid
                #expect(try ids(pid, "Gid").allSatisfy { $0 == String(group) })
                var st = stat()
                #expect(stat(d.dataDirectory + "/sandboxes/" + sb.id, &st) == 0 && st.st_uid == uid && st.st_mode & 0o777 == 0o700)
                for kind in ["mnt", "net", "ipc"] {
                    let ns = { (p: String) in try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/ns/\(kind)") }
                    #expect(try ns(String(pid)) != ns("self"), "QEMU shares the daemon's \(kind) namespace")
                }
                // Its network namespace has nothing but a loopback that is down: no route to the host's
                // own services (the tap it was handed lives in the user's namespace).
                let links = try String(contentsOfFile: "/proc/\(pid)/net/dev", encoding: .utf8)
                #expect(
                    links.split(separator: "\n").dropFirst(2).map { $0.split(separator: ":")[0].trimmingCharacters(in: .whitespaces) } == [
                        "lo"
                    ], "\(links)")
                // Its view of the data directory: its own sandbox and nothing else (no state.db, no keys,
                // not the neighbour's RAM file), and the host's temporary directories are empty tmpfs.
                let root = "/proc/\(pid)/root"
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + d.dataDirectory) == ["sandboxes"])
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + d.dataDirectory + "/sandboxes") == [sb.id])
                #expect(FileManager.default.fileExists(atPath: root + d.dataDirectory + "/sandboxes/\(sb.id)/memory"))
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/root").isEmpty)
                // The files it reads are mounted read-only.
                let mounts = try String(contentsOfFile: "/proc/\(pid)/mounts", encoding: .utf8).split(separator: "\n")
                let sandboxMount = try #require(mounts.first { $0.split(separator: " ")[1] == d.dataDirectory + "/sandboxes/" + sb.id })
                #expect(sandboxMount.split(separator: " ")[3].hasPrefix("rw"))
                #expect(mounts.contains { $0.split(separator: " ")[1].hasSuffix("/bases") && $0.split(separator: " ")[3].hasPrefix("ro") })
            }
            try await check()
            // The same after a cold cycle (a new QEMU from the restore path).
            #expect(try await d.call("POST", "/v1/sandboxes/jailed/stop").status == 200)
            #expect(try await d.exec("jailed", ["true"]).exitCode == 0)
            try await check()
        }
    }

    @Test("vmm_user \"\" runs QEMU as the daemon's own user with the daemon's namespaces (the documented way out)")
    func unconfined() async throws {
        try await withDaemon(configure: { $0.vmmUser = "" }) { d in
            let sb = try await d.create("plain", memoryMB: 256)
            let pid = try #require(await d.daemon.engine.pid(of: sb.id))
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            #expect(
                status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().allSatisfy {
                    $0 == String(getuid())
                } == true)
            for kind in ["mnt", "net"] {
                let ns = { (p: String) in try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/ns/\(kind)") }
                #expect(try ns(String(pid)) == ns("self"))
            }
            #expect(try await d.exec("plain", ["true"]).exitCode == 0)
        }
    }

    @Test("QEMU runs in seccomp mode 2, also after a cold restore")
    func seccomp() async throws {
        try await withDaemon { d in
            let sb = try await d.create("conf")
            func mode() async throws -> String? {
                let pid = try #require(await d.daemon.engine.pid(of: sb.id))
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                return status.split(separator: "\n").first { $0.hasPrefix("Seccomp:") }.map { String($0.split(separator: "\t").last ?? "") }
            }
            #expect(try await mode() == "2")
            #expect(try await d.call("POST", "/v1/sandboxes/conf/stop").status == 200)
            #expect(try await d.exec("conf", ["true"]).exitCode == 0)
            #expect(try await mode() == "2")

            // Nothing the daemon or QEMU wrote under the data directory is readable by other users.
            #expect(try await d.call("POST", "/v1/sandboxes/conf/snapshots", json: #"{"name":"s"}"#).status == 201)
            #expect(try await d.call("POST", "/v1/sandboxes/conf/stop").status == 200)
            let readable = try await Blocking.run {
                try runTool("/usr/bin/find", [d.dataDirectory, "-perm", "-o=r", "-not", "-type", "l"])
            }
            #expect(readable.isEmpty, "world-readable under the data directory:\n\(readable)")
        }
    }
}

/// A guest that burns all it can must not starve its neighbours: its cgroup caps its QEMU's CPU. How
/// much the neighbour's exec slows down is a benchmark figure (`make bench`, the noisy-neighbour rows);
/// this holds on any machine, however loaded: the neighbour's exec still completes, within its exec
/// timeout, and the bomb uses no more CPU than its cgroup grants.
@Suite("Noisy neighbour", .timeLimit(.minutes(10)))
struct NoisyNeighbourTests {
    @Test("beside a CPU-bound fork bomb in a 1-vCPU sandbox, another sandbox's exec completes, and the bomb stays within its cgroup's CPU")
    func forkBomb() async throws {
        try await withDaemon { d in
            _ = try await d.create("victim", memoryMB: 256)
            _ = try await d.create("bomber", cpus: 1, memoryMB: 256)
            let bomberPID = try #require(await d.daemon.engine.pid(of: try await d.get("bomber").id))
            let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
            /// The bomber's QEMU's CPU time so far (all its threads), in seconds.
            func cpuSeconds() throws -> Double {
                let stat = try String(contentsOfFile: "/proc/\(bomberPID)/stat", encoding: .utf8)
                let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
                return Double(Int(fields[11])! + Int(fields[12])!) / tick  // utime + stime
            }
            /// The bomber's CPU time over about `window` of wall time, and that wall time (never shorter
            /// than the span between the two CPU readings).
            func usage(over window: Duration) async throws -> (cpu: Double, wall: Double) {
                let (start, before) = (ContinuousClock.now, try cpuSeconds())
                try await Task.sleep(for: window)
                let after = try cpuSeconds()
                return (after - before, seconds(ContinuousClock.now - start))
            }
            // Busy loops that fork more busy loops, detached so the exec returns; the guest's own limits
            // (its pids and memory) stop it inside, never the host's.
            let bomb = #"nohup sh -c 'b() { (while :; do :; done) & b & }; b' >/dev/null 2>&1 &"#
            #expect(
                try await d.call("POST", "/v1/sandboxes/bomber/exec", json: #"{"cmd":["sh","-c","\#(bomb)"],"detach":true}"#).status < 300)
            // The bomb runs: a second in which the bomber's QEMU used a tenth of a CPU (an idle guest's
            // uses a few percent). Waited for, however long the machine takes to give it the CPU; the
            // deadline only turns a bomb that never runs into a failure.
            let giveUp = ContinuousClock.now + .seconds(120)
            var busy = false
            while !busy, ContinuousClock.now < giveUp {
                let (cpu, wall) = try await usage(over: .seconds(1))
                busy = cpu >= wall / 10
            }
            #expect(busy, "the bomber's QEMU never got busy")
            // The neighbour is served: each exec completes, well within its own timeout.
            for i in 0..<3 {
                let r = try await d.exec("victim", ["echo", "served \(i)"], timeout: 120)
                #expect(r.exitCode == 0 && r.stdout == "served \(i)\n")
            }
            // Confined: over a window, the bomber's QEMU used at most its cgroup's quota (its vCPU plus
            // one for the VMM's threads), with one scheduling period and a tick per thread of slack.
            // A slower machine only gives it less.
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(bomberPID)/task").count) ?? 64
            let (cpu, wall) = try await usage(over: .seconds(2))
            let allowed = 2 * (wall + 0.1) + Double(threads) / tick
            #expect(cpu <= allowed, "the bomber's QEMU used \(cpu) s of CPU in \(wall) s (its quota: 2 CPUs)")
            #expect(try await d.call("DELETE", "/v1/sandboxes/bomber").status == 200)
            #expect(try await d.exec("victim", ["true"], timeout: 120).exitCode == 0)
        }
    }
}

private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
