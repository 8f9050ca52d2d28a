public import BhattiSystem

/// Engine failures, each keeping its cause.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case unsupported(String)
    case imageMissing(String)
    case spawn(String, Errno)
    case io(String, any Error)
    case bootFailed(String)
    /// The guest booted with a LAPIC timer too far off to keep time (`LapicCalibration`); retried.
    case timerMiscalibrated(mult: Int)
    case vmmDied(String)
    case notRunning(String)
    /// Writing a snapshot failed; the VM was left running.
    case snapshotFailed(String)
    /// A snapshot's files are missing or do not match their manifest: it cannot be restored.
    case snapshotDamaged(String)
    /// QEMU could not load a snapshot.
    case restoreFailed(String)
    /// A sandbox cannot be booted again from its disk: the disk (or its VM record) is gone.
    case diskMissing(String)

    public var description: String {
        switch self {
        case .unsupported(let s): s
        case .imageMissing(let s): s
        case .spawn(let what, let e): "cannot start \(what): \(e)"
        case .io(let what, let e): "\(what): \(e)"
        case .bootFailed(let s): "boot failed: \(s)"
        case .timerMiscalibrated(let mult):
            "boot failed: the guest's LAPIC timer calibrated to mult \(mult), not ~\(LapicCalibration.expectedUnderTCG)"
        case .vmmDied(let s): "QEMU exited: \(s)"
        case .notRunning(let s): s
        case .snapshotFailed(let s): "snapshot failed: \(s)"
        case .snapshotDamaged(let s): "snapshot damaged: \(s)"
        case .restoreFailed(let s): "restore failed: \(s)"
        case .diskMissing(let s): s
        }
    }
}
