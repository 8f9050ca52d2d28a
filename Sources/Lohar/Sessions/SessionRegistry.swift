import Synchronization

/// The agent's sessions, shared by every host connection (a session outlives its client).
final class SessionRegistry: Sendable {
    /// (running, attached) counts for the activity report.
    func counts() -> (Int, Int) { (0, 0) }
}
