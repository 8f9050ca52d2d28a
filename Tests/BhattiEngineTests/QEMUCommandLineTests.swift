import Testing

@testable import BhattiEngine

@Suite("QEMU command line")
struct QEMUCommandLineTests {
    let base = QEMUCommandLine(
        accelerator: .tcg, cpus: 2, memoryMB: 1024, kernel: "/img/vmlinuz", initramfs: "/img/initramfs", disk: "/d/disk.qcow2",
        memoryFile: "/d/memory", qmpSocket: "/d/qmp.sock", agentSocket: "/d/agent.sock", tscKilohertz: 2_596_138)

    @Test("TCG: microvm, RAM in a shared file, overlay disk, QMP and agent sockets, TSC frequency")
    func tcg() {
        #expect(
            base.arguments == [
                "qemu-system-x86_64", "-M", "microvm,memory-backend=mem", "-accel", "tcg,thread=multi,tb-size=64", "-cpu", "max",
                "-smp", "2", "-m", "1024M",
                "-object", "memory-backend-file,id=mem,size=1024M,mem-path=/d/memory,share=on",
                "-kernel", "/img/vmlinuz", "-initrd", "/img/initramfs",
                "-append",
                "console=ttyS0 reboot=t panic=-1 quiet loglevel=3 mitigations=off nokaslr random.trust_cpu=on cryptomgr.notests no_timer_check pci=off init_on_alloc=0 randomize_kstack_offset=off tsc_early_khz=2596138",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-serial", "stdio",
                "-qmp", "unix:/d/qmp.sock,server=on,wait=off",
                "-drive", "id=root,file=/d/disk.qcow2,format=qcow2,if=none,cache=writeback,discard=unmap",
                "-device", "virtio-blk-device,drive=root",
                "-chardev", "socket,id=agent,path=/d/agent.sock,server=on,wait=off",
                "-device", "virtio-serial-device,max_ports=2",
                "-device", "virtserialport,chardev=agent,name=bhatti.agent",
            ])
    }

    @Test("a network card: a tap as fd 3, or a placeholder on an empty hub")
    func nic() {
        var tapped = base
        tapped.nic = (mac: "52:54:00:aa:bb:cc", tapFD: true)
        #expect(
            tapped.arguments.suffix(4) == [
                "-netdev", "tap,id=net0,fd=3,vhost=off", "-device", "virtio-net-device,netdev=net0,mac=52:54:00:aa:bb:cc",
            ])
        var placeholder = base
        placeholder.nic = (mac: "52:54:00:00:00:01", tapFD: false)
        #expect(placeholder.arguments.contains("hubport,id=net0,hubid=0"))
        #expect(!base.arguments.contains("-netdev"))
    }

    @Test("KVM: host CPU without arch-capabilities, no TSC hint")
    func kvm() {
        var kvm = base
        kvm.accelerator = .kvm
        let args = kvm.arguments
        #expect(args[3...6] == ["-accel", "kvm", "-cpu", "host,-arch-capabilities"])
        #expect(!kvm.kernelArguments.contains("tsc_early_khz"))
    }
}

@Suite("Accelerator choice")
struct AcceleratorTests {
    typealias Facts = AcceleratorProbe.HostFacts

    @Test("auto picks KVM only where a stock kernel can boot under it")
    func auto() throws {
        let hardware = Facts(kvmDeviceUsable: true, cpuFlags: ["vmx", "sse"], pvmLoaded: false)
        let pvm = Facts(kvmDeviceUsable: true, cpuFlags: ["sse"], pvmLoaded: true)
        let none = Facts(kvmDeviceUsable: false, cpuFlags: ["svm"], pvmLoaded: false)
        #expect(try AcceleratorProbe.decide(.auto, facts: hardware).accelerator == .kvm)
        let p = try AcceleratorProbe.decide(.auto, facts: pvm)
        #expect(p.accelerator == .tcg)
        #expect(p.reason.contains("PVM"))
        #expect(try AcceleratorProbe.decide(.auto, facts: none).accelerator == .tcg)
        #expect(throws: EngineError.self) { try AcceleratorProbe.decide(.kvm, facts: pvm) }
        #expect(try AcceleratorProbe.decide(.tcg, facts: hardware).accelerator == .tcg)
    }

    @Test("this host: auto resolves to something and says why")
    func thisHost() throws {
        let probe = try AcceleratorProbe.decide(.auto, facts: .current())
        #expect(!probe.reason.isEmpty)
    }

    @Test("TSC kHz from /proc/cpuinfo")
    func tsc() {
        #expect(AcceleratorProbe.hostTSCKilohertz(cpuinfo: "processor\t: 0\ncpu MHz\t\t: 2596.138\nflags: x\n") == 2_596_138)
        #expect(AcceleratorProbe.hostTSCKilohertz(cpuinfo: "nothing here") == nil)
    }

    @Test("a data directory whose socket paths would overflow sun_path is refused")
    func socketPathLimit() throws {
        try VMPaths.validate(dataDirectory: "/var/lib/bhatti")
        #expect(throws: EngineError.self) { try VMPaths.validate(dataDirectory: "/" + String(repeating: "x", count: 90)) }
    }
}
