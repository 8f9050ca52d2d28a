import BhattiSystem
import BhattiWire
import FoundationEssentials
import Glibc
import Synchronization

/// What /etc/hosts is made of; kept so a new hostname (a clone) or a new set of names rewrites it whole.
private let knownHosts = Mutex<(hostname: String?, others: [String: String])>((nil, [:]))

extension AgentSession {
    /// Applies the boot configuration: hostname, environment and secrets (memory only), files, the
    /// network address, DNS, the token, and the init script (as session `init`).
    func configure(_ frame: Frame) throws -> [UInt8] {
        let config = try decodeRequest(GuestConfig.self, frame)
        if let hostname = config.hostname {
            guard !hostname.isEmpty, hostname.utf8.count <= 63, !hostname.contains("/") else {
                throw WireErrorMessage(code: .badRequest, message: "invalid hostname \(hostname)")
            }
            if state.base.reapsAllChildren {  // the guest's own identity: only as PID 1, never in tests
                try? Machine.setHostname(hostname)
                writeSystemFile("/etc/hostname", hostname + "\n")
                knownHosts.withLock { $0.hostname = hostname }
                writeHosts()
            }
        }
        if let hosts = config.hosts, state.base.reapsAllChildren {
            knownHosts.withLock { $0.others = hosts }
            writeHosts()
        }
        if config.replaceEnvironment {
            state.apply(
                env: config.env, secrets: config.secrets, workingDirectory: config.workingDir, user: try config.user.map(resolveUser),
                token: config.token)
        } else {
            state.apply(token: config.token)
        }
        if let entropy = config.entropy, let bytes = Data(base64Encoded: entropy), state.base.reapsAllChildren {
            // Mixed in, not credited: the kernel's pool diverges from every other copy of this memory.
            let fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                _ = Array(bytes).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        for file in config.files {
            guard let bytes = Data(base64Encoded: file.content) else {
                throw WireErrorMessage(code: .badRequest, message: "file \(file.path): content is not base64")
            }
            try writeUserFile(path: file.path, bytes: Array(bytes), mode: file.mode)
        }
        if let bytes = config.diskBytes, state.base.reapsAllChildren { try growRootFilesystem(to: bytes) }
        if let address = config.address, state.base.reapsAllChildren {
            // From scratch: a restored template or fork still carries its source's address and MAC.
            if let mac = config.mac {
                try runRoot(["ip", "link", "set", "eth0", "down"])
                try runRoot(["ip", "link", "set", "eth0", "address", mac])
            }
            try runRoot(["ip", "addr", "flush", "dev", "eth0"])
            try runRoot(["ip", "addr", "add", address, "dev", "eth0"])
            try runRoot(["ip", "link", "set", "eth0", "up"])
            if let gateway = config.gateway { try runRoot(["ip", "route", "replace", "default", "via", gateway]) }
        }
        if !config.dns.isEmpty, state.base.reapsAllChildren {
            writeSystemFile("/etc/resolv.conf", config.dns.map { "nameserver \($0)\n" }.joined() + "options timeout:2 attempts:2\n")
        }
        if let script = config.initScript {
            try state.sessions.startInit(script: script, state: state)
        }
        return WireJSON.encode(Empty())
    }

    /// Writes a file as the sandbox user would own it: parents created, atomic, mode applied.
    func writeUserFile(path: String, bytes: [UInt8], mode: String) throws {
        guard path.hasPrefix("/"), let perms = mode_t(mode, radix: 8) else {
            throw WireErrorMessage(code: .badRequest, message: "file \(path): need an absolute path and an octal mode")
        }
        try GuestFile.write(bytes, to: path, mode: perms, owner: state.fileOwner)
    }

    /// /etc/hosts: localhost, this guest's name, and the user's other sandboxes.
    private func writeHosts() {
        let (hostname, others) = knownHosts.withLock { ($0.hostname, $0.others) }
        var text = "127.0.0.1 localhost\n::1 localhost\n"
        if let hostname { text += "127.0.1.1 \(hostname)\n" }
        for (name, address) in others.sorted(by: { $0.key < $1.key }) where name != hostname {
            text += "\(address) \(name)\n"
        }
        writeSystemFile("/etc/hosts", text)
    }

    private func writeSystemFile(_ path: String, _ text: String) {
        try? GuestFile.write(Array(text.utf8), to: path, mode: 0o644, owner: nil)
    }

    /// The host enlarged the root disk (`block_resize`): once the kernel has seen the new capacity,
    /// ext4 grows online to fill it.
    private func growRootFilesystem(to bytes: UInt64) throws {
        let deadline = unixMilliseconds() + 5_000
        while true {
            let sectors = GuestBoot.readFile("/sys/block/vda/size").flatMap { UInt64($0.trimmingNewlines) } ?? 0
            if sectors * 512 >= bytes { break }
            guard unixMilliseconds() < deadline else {
                throw WireErrorMessage(code: .internal, message: "the root disk still has \(sectors * 512) bytes, not \(bytes)")
            }
            usleep(10_000)
        }
        try runRoot(["resize2fs", "/dev/vda"])
    }

    /// The image's `User`, resolved in this guest (see `UserSpec.inGuest`).
    private func resolveUser(_ spec: String) throws -> UserSpec {
        do { return try UserSpec.inGuest(spec) } catch {
            throw WireErrorMessage(code: .badRequest, message: "user \(spec): \(error)")
        }
    }

    /// Runs a system command as root (network setup, resize2fs); throws with its output when it fails.
    private func runRoot(_ argv: [String]) throws {
        guard let path = resolveExecutable(argv[0], searchPath: "/usr/sbin:/usr/bin:/sbin:/bin") else {
            throw WireErrorMessage(code: .internal, message: "\(argv[0]) not found in the guest")
        }
        let pid = try Spawn(path: path, arguments: argv, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]).run()
        let done = OneShot<Termination>()
        state.waiter.onExit(of: pid) { t in done.set(t) }
        let t = done.wait()
        guard t == .exited(0) else {
            throw WireErrorMessage(code: .internal, message: "\(argv.joined(separator: " ")) failed (\(t))")
        }
    }
}
