/// Everything that goes into one QEMU invocation. Pure: turning it into argv has no side effects,
/// so the exact command line is unit-tested.
public struct QEMUCommandLine: Sendable, Equatable {
    public static func == (a: QEMUCommandLine, b: QEMUCommandLine) -> Bool { a.arguments == b.arguments }

    public var binary = "qemu-system-x86_64"
    public var accelerator: Accelerator
    public var cpus: Int
    public var memoryMB: Int
    public var kernel: String
    public var initramfs: String
    public var disk: String
    /// Guest RAM lives in this file (share=on), so a later snapshot writes only device state.
    public var memoryFile: String
    public var qmpSocket: String
    public var agentSocket: String
    /// Under TCG the kernel needs the TSC frequency, or about 1 boot in 15 hangs calibrating it.
    public var tscKilohertz: Int?
    public var extraKernelArguments: [String] = []
    /// Start paused, waiting for device state from `migrate-incoming` (restore from a snapshot).
    public var incoming = false
    /// A virtio-net card: its MAC, and whether its backend is the tap QEMU gets as fd 3 (else an
    /// empty hub: a card with no traffic).
    public var nic: (mac: String, tapFD: Bool)?
    /// QEMU's block throttling on the root disk (0: unlimited).
    public var diskThrottle = DiskThrottle()

    public init(
        accelerator: Accelerator, cpus: Int, memoryMB: Int, kernel: String, initramfs: String, disk: String,
        memoryFile: String, qmpSocket: String, agentSocket: String, tscKilohertz: Int?, nic: (mac: String, tapFD: Bool)? = nil
    ) {
        self.nic = nic
        self.accelerator = accelerator
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.kernel = kernel
        self.initramfs = initramfs
        self.disk = disk
        self.memoryFile = memoryFile
        self.qmpSocket = qmpSocket
        self.agentSocket = agentSocket
        self.tscKilohertz = tscKilohertz
    }

    /// The kernel command line.
    ///
    /// Speed over guest-internal hardening: the sandbox is one tenant with root (sudo) anyway, the
    /// isolation boundary is the VMM. `mitigations=off`, `nokaslr`, no crypto self-tests, no PCI probe
    /// (microvm has none) and a trusted CPU RNG cut about 0.35 s of a TCG boot (measured: 2.40 → 2.05 s).
    /// No zeroing of every kernel allocation (Debian builds it on) nor per-syscall stack offsets: a
    /// guest `true` exec went from ~19.2 to ~18.6 ms under TCG (pages given to processes are still zeroed).
    public var kernelArguments: String {
        var args = [
            "console=ttyS0", "reboot=t", "panic=-1", "quiet", "loglevel=3", "mitigations=off", "nokaslr",
            "random.trust_cpu=on", "cryptomgr.notests", "no_timer_check", "pci=off", "init_on_alloc=0", "randomize_kstack_offset=off",
        ]
        if accelerator == .tcg, let khz = tscKilohertz { args.append("tsc_early_khz=\(khz)") }
        args += extraKernelArguments
        return args.joined(separator: " ")
    }

    /// argv, binary first.
    public var arguments: [String] {
        let accel: [String] =
            switch accelerator {
            // Plain `-cpu host` aborts on some nested hosts (MSR 0x10a): drop arch-capabilities.
            case .kvm: ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
            case .tcg: ["-accel", "tcg,thread=multi,tb-size=64", "-cpu", "max"]
            }
        return [binary, "-M", "microvm,memory-backend=mem"] + accel + [
            "-smp", "\(cpus)",
            "-m", "\(memoryMB)M",
            "-object", "memory-backend-file,id=mem,size=\(memoryMB)M,mem-path=\(memoryFile),share=on",
            "-kernel", kernel,
            "-initrd", initramfs,
            "-append", kernelArguments,
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            // seccomp (mode 2): no obsolete syscalls, no privilege changes, no fork/exec, no affinity or
            // priority changes. QEMU runs as root here; the filter is its wall against a guest escape.
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-serial", "stdio",
            "-qmp", "unix:\(qmpSocket),server=on,wait=off",
            "-drive", "id=root,file=\(disk),format=qcow2,if=none,cache=writeback,discard=unmap" + diskThrottle.driveOptions,
            "-device", "virtio-blk-device,drive=root",
            "-chardev", "socket,id=agent,path=\(agentSocket),server=on,wait=off",
            "-device", "virtio-serial-device,max_ports=2",
            "-device", "virtserialport,chardev=agent,name=bhatti.agent",
        ] + nicArguments + (incoming ? ["-incoming", "defer"] : [])
    }

    private var nicArguments: [String] {
        guard let nic else { return [] }
        let backend = nic.tapFD ? "tap,id=net0,fd=3,vhost=off" : "hubport,id=net0,hubid=0"
        return ["-netdev", backend, "-device", "virtio-net-device,netdev=net0,mac=\(nic.mac)"]
    }
}

/// Rate limits on a VM's root disk, as QEMU's `throttling.*` drive options; 0 is unlimited.
public struct DiskThrottle: Codable, Sendable, Equatable {
    public var bytesPerSecond: Int
    public var iops: Int
    public init(bytesPerSecond: Int = 0, iops: Int = 0) {
        self.bytesPerSecond = bytesPerSecond
        self.iops = iops
    }

    var driveOptions: String {
        (bytesPerSecond > 0 ? ",throttling.bps-total=\(bytesPerSecond)" : "") + (iops > 0 ? ",throttling.iops-total=\(iops)" : "")
    }
}
