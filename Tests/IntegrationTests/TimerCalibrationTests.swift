import BhattiAPI
import BhattiDaemon
import BhattiEngine
import Foundation
import Glibc
import Synchronization
import Testing

/// Boots whose vCPU the host stalls while the guest kernel measures its LAPIC timer: the engine
/// catches the bad measurement and boots again, so every sandbox keeps time (`LapicCalibration`).
@Suite("Guest timer calibration", .serialized)
struct TimerCalibrationTests {
    /// SIGSTOP/SIGCONT bursts on the first QEMU of each sandbox of `dataDirectory`, through its first
    /// second (where the kernel calibrates); a sandbox's later QEMUs (its boot again) run unstalled.
    final class Staller: Sendable {
        private let running = Atomic<Bool>(true)
        private let stalled = Mutex<Set<String>>([])

        init(dataDirectory: String) {
            Thread { [self] in
                var seen = Set<Int32>()
                while running.load(ordering: .relaxed) {
                    for pid in qemuProcesses(mentioning: dataDirectory) where seen.insert(pid).inserted {
                        let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) }
                        guard let sandbox = cmd?.components(separatedBy: "/sandboxes/").dropFirst().first?.prefix(16) else { continue }
                        guard stalled.withLock({ $0.insert(String(sandbox)).inserted }) else { continue }
                        for delay in [0.12, 0.16, 0.2, 0.25] {
                            Thread.sleep(forTimeInterval: delay)
                            kill(pid, SIGSTOP)
                            Thread.sleep(forTimeInterval: 0.15)
                            kill(pid, SIGCONT)
                        }
                    }
                    Thread.sleep(forTimeInterval: 0.005)
                }
            }.start()
        }

        var stalledSandboxes: Int { stalled.withLock { $0.count } }
        func stop() { running.store(false, ordering: .relaxed) }
    }

    @Test("stalled while calibrating, booted again: each sandbox reports a right LAPIC timer and its sleep returns")
    func stalledBoots() async throws {
        try await withDaemon { d in
            // Under KVM the guest uses the TSC-deadline timer: nothing is measured, nothing to stall.
            guard d.daemon.engine.configuration.accelerator.accelerator == .tcg else { return }
            let staller = Staller(dataDirectory: d.dataDirectory)
            defer { staller.stop() }
            for i in 0..<3 {
                // `create` also checks the calibration the guest reports.
                _ = try await d.create("stalled\(i)", memoryMB: 256)
                let slept = try await d.exec("stalled\(i)", ["sh", "-c", "sleep 0.2; echo ok"], timeout: 60)
                #expect(slept.stdout == "ok\n", "\(slept)")
            }
            #expect(staller.stalledSandboxes == 3)
        }
    }
}
