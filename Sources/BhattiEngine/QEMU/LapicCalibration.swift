/// Whether a freshly booted guest's LAPIC timer was calibrated well enough to keep time.
///
/// Linux measures the LAPIC timer against the TSC for 100 ms at boot. Under TCG both follow host
/// time, but a vCPU that a loaded host stalls inside that window records a wrong count: the guest's
/// timers then fire late by the error's factor, or, with a count near zero, the kernel turns the LAPIC
/// timer off and the guest has no timer at all (`sleep` never returns). QEMU's emulated LAPIC counts at
/// 1 GHz and Linux divides it by 16, so a right calibration has `mult` = 2^28 (with shift 32) at any HZ.
/// KVM guests use the TSC-deadline timer, which needs no calibration: not checked.
public enum LapicCalibration {
    public static let expectedUnderTCG = 1 << 28

    /// nil (an agent that does not report it) is taken on trust.
    public static func acceptable(mult: Int?, accelerator: Accelerator) -> Bool {
        guard accelerator == .tcg, let mult else { return true }
        // Too low fires early, which costs interrupts, not accuracy (the kernel programs the rest);
        // too high fires late, which delays every timer in the guest. A quarter late is taken: a busy
        // host gave every boot of one sandbox about 6% late, and refusing those fails the create,
        // while the counts that break a guest were 1.8× and more, or near zero.
        return mult >= expectedUnderTCG / 2 && mult <= expectedUnderTCG + expectedUnderTCG / 4
    }
}
