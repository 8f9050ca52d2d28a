import BhattiSystem
import Foundation

/// How QEMU runs guest code.
public enum Accelerator: String, Sendable, Codable, CaseIterable {
    case kvm
    case tcg
}

/// What the operator asked for: `auto` probes the host.
public enum AcceleratorChoice: String, Sendable, Codable, CaseIterable {
    case auto, kvm, tcg
}

/// Picks the accelerator and says why, so the log and `/health` can tell the operator.
public struct AcceleratorProbe: Sendable {
    /// The facts the decision rests on (injected in tests).
    public struct HostFacts: Sendable {
        public var kvmDeviceUsable: Bool
        public var cpuFlags: Set<String>
        /// PVM ("pagetable-based VM") KVM boots only PVM-enabled guest kernels, not Debian's.
        public var pvmLoaded: Bool
        public init(kvmDeviceUsable: Bool, cpuFlags: Set<String>, pvmLoaded: Bool) {
            self.kvmDeviceUsable = kvmDeviceUsable
            self.cpuFlags = cpuFlags
            self.pvmLoaded = pvmLoaded
        }

        /// Reads /dev/kvm, /proc/cpuinfo and /sys/module.
        public static func current() -> HostFacts {
            let usable = FileManager.default.isWritableFile(atPath: "/dev/kvm")
            let cpuinfo = String(decoding: (try? readWholeFile("/proc/cpuinfo")) ?? [], as: UTF8.self)
            var flags = Set<String>()
            if let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
                let colon = line.firstIndex(of: ":")
            {
                flags = Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
            }
            let pvm = FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm")
            return HostFacts(kvmDeviceUsable: usable, cpuFlags: flags, pvmLoaded: pvm)
        }
    }

    public let accelerator: Accelerator
    public let reason: String

    /// Decides. An explicit `kvm` on a host that cannot boot stock kernels under KVM is refused.
    public static func decide(_ choice: AcceleratorChoice, facts: HostFacts) throws -> AcceleratorProbe {
        let hardware = facts.cpuFlags.contains("vmx") || facts.cpuFlags.contains("svm")
        let kvmWorks = facts.kvmDeviceUsable && hardware && !facts.pvmLoaded
        let why: String =
            if !facts.kvmDeviceUsable {
                "/dev/kvm is missing or not writable"
            } else if facts.pvmLoaded {
                "/dev/kvm is PVM (kvm_pvm), which boots only PVM-enabled guest kernels"
            } else if !hardware {
                "the CPU shows neither vmx nor svm"
            } else {
                "hardware KVM is available"
            }
        switch choice {
        case .tcg: return AcceleratorProbe(accelerator: .tcg, reason: "tcg requested")
        case .kvm:
            guard kvmWorks else { throw EngineError.unsupported("--accel kvm: \(why)") }
            return AcceleratorProbe(accelerator: .kvm, reason: "kvm requested; \(why)")
        case .auto:
            return kvmWorks
                ? AcceleratorProbe(accelerator: .kvm, reason: why)
                : AcceleratorProbe(accelerator: .tcg, reason: "software emulation (TCG): \(why)")
        }
    }

    /// The host TSC frequency in kHz (from /proc/cpuinfo), for `tsc_early_khz=` under TCG.
    public static func hostTSCKilohertz(cpuinfo: String? = nil) -> Int? {
        let text = cpuinfo ?? String(decoding: (try? readWholeFile("/proc/cpuinfo")) ?? [], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu MHz") }),
            let colon = line.firstIndex(of: ":"),
            let mhz = Double(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return Int((mhz * 1000).rounded())
    }
}
