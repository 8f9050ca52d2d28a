/// A running sandbox's guest, in the engine's terms: what the daemon asks of it. `AgentGuest` speaks
/// the agent's wire protocol for it, so the wire format and the daemon change independently; the
/// daemon's tests put a fake here. A refusal, or a guest that does not answer, throws `GuestError`;
/// a cancelled call throws `CancellationError`.
public protocol SandboxGuest: Sendable {
    /// Runs `command` to its end, handing output to `onEvent` as it arrives; returns the exit code.
    /// `stdin` (when given) is sent and then closed. The guest is credited only once `onEvent`
    /// returns, so a consumer that waits holds the command back. Cancelling, or `timeout` passing
    /// (`GuestError.Kind.timedOut`), kills the process group.
    func exec(
        _ command: GuestCommand, stdin: [UInt8]?, timeout: Duration?, onEvent: @Sendable (ExecEvent) async -> Void
    ) async throws -> Int32
    /// Starts a command in its own session with its output to a file, and does not wait for it.
    func execDetached(_ command: GuestCommand) async throws -> DetachedCommand
    /// What the idle check and metrics need: running commands, attached sessions, CPU time, memory, disk.
    /// `usage`: memory and disk figures too (a metrics sample); the idle probes leave them out.
    func activity(usage: Bool) async throws -> GuestActivity
    /// Hands the guest part of its configuration (what is nil or empty is left as it is).
    func configure(_ settings: GuestSettings) async throws
    /// Hands the guest the host's wall clock ahead of whatever is sent next; no reply.
    func syncClock()

    /// Streams a file: `onInfo` once before any data, then `onChunk` per chunk (credited after it
    /// returns). A throw from either closure cancels the read.
    func readFile(
        _ read: GuestFileRead, onInfo: @Sendable (GuestFileReadInfo) async throws -> Void,
        onChunk: @Sendable ([UInt8]) async throws -> Void
    ) async throws -> GuestFileReadInfo
    /// Writes exactly `size` bytes pulled from `next` (nil: no more) to `path` atomically. A throw
    /// from `next` cancels the write and is rethrown.
    func writeFile(
        path: String, mode: String, size: Int, from next: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> GuestFileInfo
    func writeFile(path: String, mode: String, bytes: [UInt8]) async throws -> GuestFileInfo
    /// A final symlink is followed.
    func stat(_ path: String) async throws -> GuestFileInfo
    func list(_ path: String) async throws -> GuestFileListing
    /// mkdir -p: missing parents too, each owned by the sandbox's user. False when `path` already was a
    /// directory; `.badRequest` when something else is in the way.
    func makeDirectory(_ path: String) async throws -> Bool
    /// rename(2): a destination that is there is replaced as rename replaces it; its missing parents
    /// are made first. A missing source is `.notFound`; a move across file systems, of a directory
    /// onto a file or a non-empty directory, or into itself is `.badRequest`.
    func move(from source: String, to destination: String) async throws
    /// rm -r, following no symlink (one is removed itself); a missing path is `.notFound`, `/`
    /// `.badRequest`.
    func remove(_ path: String) async throws

    /// Opens a session, or attaches to one; returns once the guest has answered.
    func openSession(_ request: GuestSessionRequest) async throws -> any GuestSession
    /// Every session in the guest, oldest first.
    func listSessions() async throws -> [GuestSessionInfo]

    /// A TCP connection to 127.0.0.1:`port` inside the guest (`.notFound` when nothing listens).
    func forward(port: Int) async throws -> any GuestPortForward

    /// Watches directory `path` (and, `recursive`, every directory below it, those made later too);
    /// returns once the guest is watching. A missing path is `.notFound`, one that is not a directory
    /// `.badRequest`.
    func watch(path: String, recursive: Bool) async throws -> any GuestWatch
}

/// One client's attachment to a guest session. Consume `output` to its end or call `close()`.
/// Its calls throw once the channel is gone.
public protocol GuestSession: Sendable {
    var sessionID: String { get }
    /// Output, then one `.exit` or `.detached`, then the end; credit goes back as events are taken.
    var output: AsyncThrowingStream<SessionEvent, any Error> { get }
    /// Input within the guest's credit; for a piped session an empty write closes stdin.
    func write(_ bytes: [UInt8]) async throws
    /// The input's sender is gone: writes stop waiting for credit the guest may never give.
    func stopWaitingForInputCredit()
    func resize(rows: UInt16, cols: UInt16) throws
    /// Leaves the session running; `output` ends with `.detached(reason: nil)`.
    func detach() throws
    /// Ends the session (its process group: SIGTERM, a terminal's SIGHUP, then SIGKILL after a
    /// grace); `output` ends with `.exit`.
    func kill() throws
    /// Stops listening (detaches) and ends `output` at once.
    func close()
}

/// One relayed TCP connection into the guest. Call `close()` when done with it.
public protocol GuestPortForward: Sendable {
    /// What the guest's socket sends; finishes when it closes its side.
    var incoming: AsyncThrowingStream<[UInt8], any Error> { get }
    /// Waits for the guest's credit.
    func send(_ bytes: [UInt8]) async throws
    /// Half-closes: the program behind the port reads end of file.
    func finishSending() throws
    func close()
}

/// A directory watch in the guest. Call `close()` when done with it: the guest then removes its
/// inotify watches (it does so too when the channel goes).
public protocol GuestWatch: Sendable {
    /// The changes, in order; credit goes back as they are taken, so a consumer that stops reading
    /// holds back only this watch. Finishes when the watched directory is deleted or `close()` is
    /// called; throws `GuestError` when the watch fails (`.resourceExhausted`: the guest lost events
    /// while it was not read) or the channel drops.
    var events: AsyncThrowingStream<GuestWatchEvent, any Error> { get }
    func close()
}
