import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import BhattiWire
import Foundation
import Synchronization
import Testing

/// A real daemon in this process: its own data directory, the real engine booting real QEMU VMs.
final class TestDaemon: Sendable {
    let daemon: Daemon
    let dataDirectory: String
    let client: HTTPClient
    /// The `event` of every log line so far, in order.
    let logEvents: LogEvents

    /// The guest image `make test` built (or `BHATTI_TEST_IMAGE_DIR`).
    static var imageDirectory: String {
        ProcessInfo.processInfo.environment["BHATTI_TEST_IMAGE_DIR"] ?? "/var/lib/bhatti/images/default"
    }

    static func start(
        imageDirectory: String = TestDaemon.imageDirectory, dataDirectory: String? = nil,
        warmAfter: String = "30s", coldAfter: String = "30m", templates: Bool = false,
        clock: any Clock<Duration> = ManualClock(), configure: (inout DaemonConfiguration) -> Void = { _ in }
    ) async throws -> TestDaemon {
        // Short: sandbox socket paths must stay under 108 bytes.
        let data = dataDirectory ?? "/tmp/bhi-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var config = DaemonConfiguration.isolated(dataDirectory: data, imageDirectory: imageDirectory, listen: "127.0.0.1:0")
        config.warmAfter = warmAfter
        config.coldAfter = coldAfter
        config.templates = templates
        // A boot deadline only a hang reaches: on a loaded machine (load 49 on two cores, other tests'
        // VMs included) two guests took past the default 90 s to say hello, and the creates failed.
        config.bootTimeoutSeconds = 600
        configure(&config)
        let events = LogEvents()
        let daemon = try await Daemon.start(config, log: Logger(sink: { line in events.record(line) }), clock: clock)
        return TestDaemon(daemon: daemon, dataDirectory: data, events: events)
    }

    private init(daemon: Daemon, dataDirectory: String, events: LogEvents) {
        self.daemon = daemon
        self.dataDirectory = dataDirectory
        logEvents = events
        client = HTTPClient(endpoint: .unix(path: daemon.socketPath))
    }

    /// Stops the daemon (and every VM); removes the data directory unless `keepData`.
    ///
    /// (A test daemon's clock is a `ManualClock` unless the test hands in another: nothing cools or
    /// refills on its own while a test runs however long a loaded machine takes, and the tests whose
    /// subject is time move the clock themselves.)
    func stop(keepData: Bool = false) async {
        await daemon.stop()
        if !keepData {
            // Namespaces outlive the daemon (sandboxes come back after a restart): a finished test removes its own.
            _ = await daemon.network?.removeAll()
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
    }

    var authHeaders: HTTPHeaders { ["Authorization": "Bearer \(daemon.adminKey)", "Content-Type": "application/json"] }

    /// Sends a request from a dedicated thread: the client blocks, and the daemon under test shares
    /// this process's two-thread cooperative pool.
    func call(_ method: String, _ path: String, json: String? = nil, headers extra: HTTPHeaders = []) async throws -> HTTPClientResponse {
        var h = authHeaders
        for (n, v) in extra { h.set(n, v) }
        let client = self.client
        let headers = h
        return try await Blocking.run { try client.send(method: method, path: path, headers: headers, body: Array((json ?? "").utf8)) }
    }

    /// A raw request without the admin headers, off the cooperative pool.
    func raw(_ method: String, _ path: String, headers: HTTPHeaders = [], body: [UInt8] = [], via client: HTTPClient? = nil) async throws
        -> HTTPClientResponse
    {
        let c = client ?? self.client
        return try await Blocking.run { try c.send(method: method, path: path, headers: headers, body: body) }
    }

    func create(_ name: String, cpus: Int = 1, memoryMB: Int = 512) async throws -> SandboxDTO {
        let r = try await call("POST", "/v1/sandboxes", json: "{\"name\":\"\(name)\",\"cpus\":\(cpus),\"memory_mb\":\(memoryMB)}")
        #expect(r.status == 201, "create \(name): \(r.status) \(r.text)")
        let sandbox = try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body))
        // Every booted guest keeps time: its LAPIC timer calibration was checked (and the boot
        // retried when it was off), whatever the host's load during its boot.
        let hello = try await daemon.engine.agent(for: sandbox.id).hello
        let accelerator = daemon.engine.configuration.accelerator.accelerator
        #expect(hello.lapicMult != nil && LapicCalibration.acceptable(mult: hello.lapicMult, accelerator: accelerator), "\(hello)")
        return sandbox
    }

    func exec(_ sandbox: String, _ cmd: [String], stdin: String? = nil, timeout: Double? = nil) async throws -> ExecResultDTO {
        let body = ExecRequestDTO(cmd: cmd, timeoutSec: timeout, stdin: stdin)
        let r = try await call(
            "POST", "/v1/sandboxes/\(sandbox)/exec", json: String(decoding: try JSONEncoder().encode(body), as: UTF8.self))
        guard r.status == 200 else { throw Failure("exec \(cmd): \(r.status) \(r.text)") }
        return try JSONDecoder().decode(ExecResultDTO.self, from: Data(r.body))
    }

    func get(_ sandbox: String) async throws -> SandboxDTO {
        let r = try await call("GET", "/v1/sandboxes/\(sandbox)")
        guard r.status == 200 else { throw Failure("get \(sandbox): \(r.status) \(r.text)") }
        return try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body))
    }

    func errorCode(_ r: HTTPClientResponse) -> String? {
        (try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(r.body)))?.error.code
    }
}

/// Event names of a daemon's log lines.
final class LogEvents: Sendable {
    private let events = Mutex<[String]>([])
    private let lines = Mutex<[String]>([])

    /// Every log line so far, as written.
    var all: [String] { lines.withLock { $0 } }

    func record(_ line: String) {
        lines.withLock { $0.append(line) }
        guard let data = line.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let event = object["event"] as? String
        else { return }
        events.withLock { list in
            list.append(event)
            // `sandbox.created:template` and the like: how it was made.
            if let from = object["from"] as? String { list.append(event + ":" + from) }
        }
    }

    func count(_ event: String) -> Int { events.withLock { $0.filter { $0 == event }.count } }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Whether a process exists (signal 0).
func processExists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

/// QEMU processes whose command line mentions `fragment`.
func qemuProcesses(mentioning fragment: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let cmd = String(decoding: data, as: UTF8.self)
        return cmd.contains("qemu-system") && cmd.contains(fragment)
    }
}

/// Runs `body` with a fresh daemon and always stops it (and so every VM) before returning.
func withDaemon(
    imageDirectory: String = TestDaemon.imageDirectory, warmAfter: String = "30s", coldAfter: String = "30m",
    clock: any Clock<Duration> = ManualClock(), configure: (inout DaemonConfiguration) -> Void = { _ in },
    _ body: (TestDaemon) async throws -> Void
) async throws {
    let d = try await TestDaemon.start(
        imageDirectory: imageDirectory, warmAfter: warmAfter, coldAfter: coldAfter, clock: clock, configure: configure)
    do {
        try await body(d)
    } catch {
        await d.stop()
        throw error
    }
    await d.stop()
    #expect(qemuProcesses(mentioning: d.dataDirectory).isEmpty, "QEMU left running after the daemon stopped")
}

/// Polls `condition` every `interval` until it holds; whether it did. The deadline only turns a hang
/// into a failure: a pass never waits for it, so it is far beyond any healthy run, however loaded.
func eventually(
    deadline: Duration = .seconds(300), interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
) async throws -> Bool {
    let giveUp = ContinuousClock.now + deadline
    while ContinuousClock.now < giveUp {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}

extension TestDaemon {
    /// Moves `clock` from deadline to deadline, only while the daemon waits on it, until `sandbox` is
    /// in `state`; returns how much driven time that took. Fails if it would take more than `limit`,
    /// so a timer asleep past its deadline (the bug that kept woken sandboxes hot) is caught.
    @discardableResult
    func driveIdle(
        _ clock: ManualClock, _ sandbox: String, to state: String, limit: Duration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Duration {
        let start = clock.now
        // Real time only turns a hang into a failure.
        let hang = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < hang {
            // The deadline first, then the state: a deadline set after the state changed is never used.
            let next = clock.nextDeadline
            if try await get(sandbox).state == state { return start.duration(to: clock.now) }
            if let next, next > clock.now {
                guard start.duration(to: next) <= limit else {
                    Issue.record(
                        "\(sandbox) would reach \(state) only after \(start.duration(to: next)) of idleness (limit \(limit))",
                        sourceLocation: sourceLocation)
                    return start.duration(to: next)
                }
                clock.advance(by: clock.now.duration(to: next))
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        Issue.record("\(sandbox) never reached \(state)", sourceLocation: sourceLocation)
        return start.duration(to: clock.now)
    }

    /// Moves `clock` from deadline to deadline through `span` of driven time, only while the daemon
    /// waits on it, expecting `sandbox` to stay hot all along (busy, held or kept hot).
    func driveIdle(_ clock: ManualClock, _ sandbox: String, through span: Duration, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let start = clock.now
        let hang = ContinuousClock.now + .seconds(120)
        while start.duration(to: clock.now) < span, ContinuousClock.now < hang {
            if let next = clock.nextDeadline, next > clock.now {
                clock.advance(by: clock.now.duration(to: next))
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await get(sandbox).state == "hot", sourceLocation: sourceLocation)
        }
        #expect(
            start.duration(to: clock.now) >= span, "only \(start.duration(to: clock.now)) of \(span) driven", sourceLocation: sourceLocation
        )
    }
}

/// Runs curl (`-sS` and `args`) off the cooperative pool: its exit status and its stdout and stderr.
func curl(_ args: [String]) async throws -> (Int32, String) {
    try await Blocking.run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS"] + args
        let out = Foundation.Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension TestDaemon {
    /// `POST /v1/sandboxes/{sandbox}/{verb}` (pause, stop, start), which must answer 200; the sandbox after it.
    @discardableResult
    func post(_ sandbox: String, _ verb: String) async throws -> SandboxDTO {
        let r = try await call("POST", "/v1/sandboxes/\(sandbox)/\(verb)")
        guard r.status == 200 else { throw Failure("\(verb): \(r.status) \(r.text)") }
        return try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body))
    }

    /// The sandbox once `done` holds for it, polled (the deadline only turns a hang into a failure);
    /// the last answer otherwise.
    func waitFor(_ sandbox: String, _ done: (SandboxDTO) -> Bool) async throws -> SandboxDTO {
        var last = try await get(sandbox)
        _ = try await eventually(interval: .milliseconds(20)) {
            last = try await get(sandbox)
            return done(last)
        }
        return last
    }
}
