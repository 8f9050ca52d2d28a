import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import Foundation

/// envd's process table in bhatti's terms: each `Start` is a native exec owned here, not by the
/// request that started it, so a background command runs on after its client stops reading, and
/// `List`, `Connect` and `SendSignal` find it by pid or tag. Output goes to every stream attached
/// (the starting one, then any `Connect`); each send waits for its reader, so a slow reader slows
/// the command, as on the native API. A process started with a PTY or stdin runs as a guest session,
/// whose handle takes `SendInput`, `CloseStdin` and `Update`. A finished process leaves the table.
actor E2BProcesses {
    typealias Event = EnvdProcess.ProcessEvent.Event

    private struct Process {
        let sandbox: String
        let info: EnvdProcess.ProcessInfo
        var readers: [Int: Reader] = [:]
        var task: Task<Void, Never>?
        /// A PTY or stdin process: its session, once open (its start event goes out only then, so a
        /// client knows its pid only once it takes input).
        let takesInput: Bool
        var session: (any GuestSession)?
        var pty = false
    }

    /// One attached stream and the signal that ends its wait.
    struct Reader: Sendable {
        let output: ResponseStream
        let done: AsyncStream<Never>.Continuation
    }

    private var processes: [UInt32: Process] = [:]
    private var nextPid: UInt32 = 1000
    private var nextReader = 0
    private var stopped = false

    /// Registers the process, attaches `output` and runs it (`run` sends its start event, once it can
    /// take input, and its output; its end, and the end of each attached stream, are sent here);
    /// returns what the caller waits on until the process ends (or the caller is cancelled).
    func start(
        sandbox: String, info: EnvdProcess.ProcessInfo, takesInput: Bool, output: ResponseStream,
        run:
            @escaping @Sendable (_ pid: UInt32, _ publish: @escaping @Sendable (Event) async -> Void) async ->
            EnvdProcess.ProcessEvent.EndEvent
    ) -> (pid: UInt32, done: AsyncStream<Never>)? {
        guard !stopped else { return nil }
        nextPid += 1
        let pid = nextPid
        var withPid = info
        withPid.pid = pid
        var process = Process(sandbox: sandbox, info: withPid, takesInput: takesInput)
        let (done, reader) = newReader(output)
        process.readers[reader.0] = reader.1
        processes[pid] = process
        process.task = Task {
            let end = await run(pid) { event in await self.publish(pid, event) }
            self.finish(pid, end)
        }
        processes[pid]?.task = process.task
        return (pid, done)
    }

    /// Attaches `output` to a running process; nil when there is none of that pid or tag in the sandbox.
    func attach(sandbox: String, _ selector: EnvdProcess.ProcessSelector.Selector?, output: ResponseStream) -> (
        pid: UInt32, done: AsyncStream<Never>
    )? {
        guard let pid = find(sandbox: sandbox, selector) else { return nil }
        let (done, reader) = newReader(output)
        processes[pid]?.readers[reader.0] = reader.1
        return (pid, done)
    }

    /// Kills the process: a session is ended in the guest (its output then ends with the exit),
    /// an exec's task is cancelled (its whole process group killed); false when none matches.
    func kill(sandbox: String, _ selector: EnvdProcess.ProcessSelector.Selector?) -> Bool {
        guard let pid = find(sandbox: sandbox, selector) else { return false }
        if let session = processes[pid]?.session, (try? session.kill()) != nil { return true }
        processes[pid]?.task?.cancel()
        return true
    }

    /// The process's input once its session is open: `SendInput`, `CloseStdin` and `Update` use it.
    func attachSession(_ session: any GuestSession, pty: Bool, to pid: UInt32) {
        processes[pid]?.session = session
        processes[pid]?.pty = pty
    }

    /// The session of a process that takes input, or why there is none.
    func session(sandbox: String, _ selector: EnvdProcess.ProcessSelector.Selector?) throws(ConnectError) -> (
        session: any GuestSession, pty: Bool
    ) {
        guard let pid = find(sandbox: sandbox, selector), let process = processes[pid] else {
            throw ConnectError(.notFound, "no such process")
        }
        guard process.takesInput else { throw ConnectError(.failedPrecondition, "the process was started without stdin or a PTY") }
        // Named by its tag before its start event: its session is still opening.
        guard let session = process.session else { throw ConnectError(.unavailable, "the process has not started yet") }
        return (session, process.pty)
    }

    func list(sandbox: String) -> [EnvdProcess.ProcessInfo] {
        processes.values.filter { $0.sandbox == sandbox }.map(\.info).sorted { $0.pid < $1.pid }
    }

    /// Kills every process and waits for each to end: the daemon's stop leaves none behind.
    func stop() async {
        stopped = true
        let tasks = processes.values.compactMap(\.task)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    private func find(sandbox: String, _ selector: EnvdProcess.ProcessSelector.Selector?) -> UInt32? {
        switch selector {
        case .pid(let pid): processes[pid]?.sandbox == sandbox ? pid : nil
        case .tag(let tag): processes.first { $0.value.sandbox == sandbox && $0.value.info.tag == tag }?.key
        case nil: nil
        }
    }

    private func newReader(_ output: ResponseStream) -> (AsyncStream<Never>, (Int, Reader)) {
        let (done, continuation) = AsyncStream<Never>.makeStream()
        nextReader += 1
        return (done, (nextReader, Reader(output: output, done: continuation)))
    }

    /// Sends `event` to each attached reader; the table stays usable while a send waits (the actor
    /// is free at each await). A reader that has gone is detached.
    private func publish(_ pid: UInt32, _ event: Event) async {
        guard let readers = processes[pid]?.readers else { return }
        let bytes = ConnectEnvelope(message: EnvdProcess.StartResponse(event)).encoded()
        var gone: [Int] = []
        for (key, reader) in readers where !(await reader.output.send(bytes)) { gone.append(key) }
        for key in gone {
            processes[pid]?.readers[key]?.done.finish()
            processes[pid]?.readers[key] = nil
        }
    }

    /// Sends the end event with the end of each attached stream, as one chunk (a short command's
    /// client reads its end in one piece), and finishes the streams.
    private func finish(_ pid: UInt32, _ end: EnvdProcess.ProcessEvent.EndEvent) {
        let bytes = ConnectEnvelope(message: EnvdProcess.StartResponse(.end(end))).encoded() + ConnectEndStream().envelope().encoded()
        for reader in processes[pid]?.readers.values ?? [:].values {
            reader.output.write(bytes)
            reader.output.finish()
            reader.done.finish()
        }
        processes[pid] = nil
    }
}
