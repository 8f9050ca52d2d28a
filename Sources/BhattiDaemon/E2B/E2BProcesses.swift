import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import Foundation

/// envd's process table in bhatti's terms: each `Start` is a native exec owned here, not by the
/// request that started it, so a background command runs on after its client stops reading, and
/// `List`, `Connect` and `SendSignal` find it by pid or tag. Output goes to every stream attached
/// (the starting one, then any `Connect`); each send waits for its reader, so a slow reader slows
/// the command, as on the native API. A finished process leaves the table.
actor E2BProcesses {
    typealias Event = EnvdProcess.ProcessEvent.Event

    private struct Process {
        let sandbox: String
        let info: EnvdProcess.ProcessInfo
        var readers: [Int: Reader] = [:]
        var task: Task<Void, Never>?
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

    /// Registers the process, attaches `output`, sends its start event and runs it; returns what
    /// the caller waits on until the process ends (or the caller is cancelled).
    func start(
        sandbox: String, info: EnvdProcess.ProcessInfo, output: ResponseStream,
        run: @escaping @Sendable (_ publish: @escaping @Sendable (Event) async -> Void) async -> EnvdProcess.ProcessEvent.EndEvent
    ) -> (pid: UInt32, done: AsyncStream<Never>)? {
        guard !stopped else { return nil }
        nextPid += 1
        let pid = nextPid
        var withPid = info
        withPid.pid = pid
        var process = Process(sandbox: sandbox, info: withPid)
        let (done, reader) = newReader(output)
        process.readers[reader.0] = reader.1
        processes[pid] = process
        process.task = Task {
            await self.publish(pid, .start(.init(pid: pid)))
            let end = await run { event in await self.publish(pid, event) }
            await self.publish(pid, .end(end))
            self.finish(pid)
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

    /// Kills the process (its whole process group, as a cancelled exec does); false when none matches.
    func kill(sandbox: String, _ selector: EnvdProcess.ProcessSelector.Selector?) -> Bool {
        guard let pid = find(sandbox: sandbox, selector) else { return false }
        processes[pid]?.task?.cancel()
        return true
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

    private func finish(_ pid: UInt32) {
        if let readers = processes[pid]?.readers {
            for reader in readers.values { reader.done.finish() }
        }
        processes[pid] = nil
    }
}
