import BhattiEngine
import Testing

@Suite("LAPIC timer calibration")
struct LapicCalibrationTests {
    @Test(
        "under TCG: 2^28 within a quarter above and half below; none, zero or far off is refused; KVM and unreported are trusted",
        arguments: [
            (268_435_456, Accelerator.tcg, true),
            (268_433_308, .tcg, true),
            (269_889_302, .tcg, true),  // +0.5%
            (246_705_068, .tcg, true),  // −8%: fires early, the kernel programs the rest
            (134_217_728, .tcg, true),  // exactly half
            (134_217_727, .tcg, false),
            (35_977_867, .tcg, false),  // a count taken across a host stall
            (284_031_555, .tcg, true),  // +5.8%: what a busy CI host gave five boots running
            (335_544_320, .tcg, true),  // exactly a quarter late
            (335_544_321, .tcg, false),
            (483_183_820, .tcg, false),  // 1.8×: what a SIGSTOP during calibration gives
            (568_533_410, .tcg, false),  // twice as late
            (0, .tcg, false),  // no lapic device: the kernel turned the timer off
            (0, .kvm, true),
        ] as [(Int, Accelerator, Bool)])
    func policy(_ mult: Int, _ accelerator: Accelerator, _ ok: Bool) {
        #expect(LapicCalibration.acceptable(mult: mult, accelerator: accelerator) == ok)
    }

    @Test("an agent that does not report its calibration is trusted")
    func unreported() {
        #expect(LapicCalibration.acceptable(mult: nil, accelerator: .tcg))
    }
}
