import BhattiSystem

/// Engine failures, each keeping its cause.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case unsupported(String)
    case imageMissing(String)
    case spawn(String, Errno)
    case io(String, any Error)
    case bootFailed(String)
    case vmmDied(String)
    case notRunning(String)

    public var description: String {
        switch self {
        case .unsupported(let s): s
        case .imageMissing(let s): s
        case .spawn(let what, let e): "cannot start \(what): \(e)"
        case .io(let what, let e): "\(what): \(e)"
        case .bootFailed(let s): "boot failed: \(s)"
        case .vmmDied(let s): "QEMU exited: \(s)"
        case .notRunning(let s): s
        }
    }
}
