import BhattiSystem
import CBhattiShim
import Dispatch
import Glibc
import Synchronization

/// Readiness bits of a registered descriptor (level-triggered).
struct PollEvents: OptionSet, Sendable {
    let rawValue: UInt32

    static let readable = PollEvents(rawValue: BH_POLL_IN)
    static let writable = PollEvents(rawValue: BH_POLL_OUT)
    /// Reported whatever the interest.
    static let error = PollEvents(rawValue: BH_POLL_ERR)
    /// Reported whatever the interest: both directions are shut (a reset, or the peer closed after our shutdown).
    static let hangUp = PollEvents(rawValue: BH_POLL_HUP)
}

/// The owner of a registered descriptor; called on the loop thread only.
protocol LoopSource: AnyObject {
    /// The descriptor is ready for some of `events`.
    func ready(_ events: PollEvents)
    /// The deadline set with `EventLoop.setDeadline` has passed (it is cleared before this call).
    func deadlinePassed()
}

/// A registration with an `EventLoop` (it refers to the registration itself, so no lookup is needed).
struct LoopToken {
    fileprivate let registration: EventLoop.Registration
}

/// One dedicated thread in `epoll_wait` serving many descriptors, so an idle connection costs a
/// registration and not a thread.
///
/// Other threads and tasks reach it only through `execute`, which queues a closure and wakes the loop
/// through an eventfd; everything else (registrations, deadlines, timers, `stop`) is called from closures
/// running on the loop. Deadlines are per registration and checked lazily: the loop sleeps until the
/// earliest one it knows of, then sweeps all registrations once, so pushing a deadline later (what every
/// read does) costs no syscall and no heap work.
final class EventLoop: @unchecked Sendable {
    // SAFETY: `queue` is a Mutex and `epoll`/`wake` are immutable descriptors that guard their own
    // closing; every `var` is touched only on the loop thread (closures given to `execute` run there).

    typealias Job = @Sendable () -> Void

    private struct Queue {
        var jobs: [Job] = []
        /// Whether the eventfd was written since the loop last took the jobs (one write wakes it).
        var signalled = false
        /// False once the loop has exited: `execute` refuses.
        var open = true
    }

    fileprivate final class Registration {
        let token: UInt64
        let fd: Int32
        var interest: PollEvents
        var deadline: ContinuousClock.Instant?
        let source: any LoopSource
        /// False once deregistered: a stale token then changes nothing.
        var active = true

        init(token: UInt64, fd: Int32, interest: PollEvents, source: any LoopSource) {
            self.token = token
            self.fd = fd
            self.interest = interest
            self.source = source
        }
    }

    private let queue = Mutex(Queue())
    private let epoll: FileDescriptor
    private let wake: FileDescriptor

    /// Token 0 is the eventfd.
    private var nextToken: UInt64 = 1
    private var registrations: [UInt64: Registration] = [:]
    /// No registration's deadline is earlier than this (nil: none has one).
    private var nextSweep: ContinuousClock.Instant?
    private var timers: [(at: ContinuousClock.Instant, job: () -> Void)] = []
    private var spareJobs: [Job] = []
    private var stopping = false

    /// A loop on its own thread; it runs until a closure on it calls `stop()`.
    init() throws(Errno) {
        epoll = FileDescriptor(rawValue: try valueOrNegatedErrno(bh_epoll_create()))
        do {
            wake = FileDescriptor(rawValue: try valueOrNegatedErrno(bh_eventfd()))
        } catch {
            epoll.close()
            throw error
        }
        do {
            // Edge-triggered: every write reports once, so the counter never has to be read back
            // (a syscall saved per wake-up; it would take centuries of writes to overflow).
            try valueOrNegatedErrno(
                bh_epoll_ctl(epoll.rawValue, BH_POLL_ADD, wake.rawValue, BH_POLL_IN | BH_POLL_EDGE, 0))
        } catch {
            epoll.close()
            wake.close()
            throw error
        }
        startThread(name: "bhatti-http-loop") { [self] in run() }
    }

    /// Runs `job` on the loop thread soon; false (and `job` dropped) once the loop has exited.
    /// Callable from any thread or task.
    @discardableResult
    func execute(_ job: @escaping Job) -> Bool {
        let (accepted, wakeUp) = queue.withLock { queue -> (Bool, Bool) in
            guard queue.open else { return (false, false) }
            queue.jobs.append(job)
            defer { queue.signalled = true }
            return (true, !queue.signalled)
        }
        if wakeUp {
            var one: UInt64 = 1
            _ = try? wake.withRawValue { fd in Glibc.write(fd, &one, MemoryLayout<UInt64>.size) }
        }
        return accepted
    }

    // MARK: Loop thread only

    var now: ContinuousClock.Instant { ContinuousClock.now }

    /// Watches `fd` for `interest` on behalf of `source` until `deregister`.
    func register(fd: Int32, interest: PollEvents, source: any LoopSource) throws(Errno) -> LoopToken {
        let token = nextToken
        nextToken += 1
        try valueOrNegatedErrno(bh_epoll_ctl(epoll.rawValue, BH_POLL_ADD, fd, interest.rawValue, token))
        let registration = Registration(token: token, fd: fd, interest: interest, source: source)
        registrations[token] = registration
        return LoopToken(registration: registration)
    }

    /// Changes what the registration waits for; a no-op (no syscall) when it is unchanged.
    func setInterest(_ token: LoopToken, _ interest: PollEvents) {
        let registration = token.registration
        guard registration.active, registration.interest != interest else { return }
        registration.interest = interest
        // Fails only for a descriptor that is not registered, which `active` rules out.
        _ = bh_epoll_ctl(epoll.rawValue, BH_POLL_MODIFY, registration.fd, interest.rawValue, registration.token)
    }

    /// Sets (or with nil clears) when the source's `deadlinePassed` is called.
    func setDeadline(_ token: LoopToken, _ deadline: ContinuousClock.Instant?) {
        let registration = token.registration
        guard registration.active else { return }
        registration.deadline = deadline
        if let deadline, nextSweep.map({ deadline < $0 }) ?? true { nextSweep = deadline }
    }

    /// Stops watching; call before closing the descriptor. Events already read for it are dropped.
    func deregister(_ token: LoopToken) {
        let registration = token.registration
        guard registration.active else { return }
        registration.active = false
        registrations[registration.token] = nil
        _ = bh_epoll_ctl(epoll.rawValue, BH_POLL_REMOVE, registration.fd, 0, 0)
    }

    /// Runs `job` on the loop once `delay` has passed (dropped if the loop stops first).
    func schedule(after delay: Duration, _ job: @escaping () -> Void) {
        timers.append((now + delay, job))
    }

    /// Ends the loop after the current round: queued jobs still run, registrations are dropped (their
    /// owners close the descriptors), and the thread exits.
    func stop() { stopping = true }

    private func run() {
        let capacity: Int32 = 256
        let events = UnsafeMutablePointer<bh_poll_event>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        while !stopping {
            let count = bh_epoll_wait(epoll.rawValue, events, capacity, timeoutMilliseconds())
            // Only a broken epoll descriptor fails here; nothing could be served any more.
            if count < 0 { fatalError("epoll_wait: \(Errno(rawValue: -count))") }
            for index in 0..<Int(count) {
                let event = events[index]
                // The eventfd: its jobs run below.
                if event.token == 0 { continue }
                // A source earlier in this batch may have deregistered this one.
                if let registration = registrations[event.token] {
                    registration.source.ready(PollEvents(rawValue: event.events))
                }
            }
            runJobs()
            fireDue()
        }
        let last = queue.withLock { queue -> [Job] in
            queue.open = false
            defer { queue.jobs = [] }
            return queue.jobs
        }
        // Late answers still need their streams cancelled; their connections are gone.
        for job in last { job() }
        for registration in registrations.values { registration.active = false }
        registrations = [:]
        timers = []
        epoll.close()
        wake.close()
    }

    private func runJobs() {
        var batch = spareJobs
        queue.withLock { queue in
            swap(&queue.jobs, &batch)
            queue.signalled = false
        }
        for job in batch { job() }
        batch.removeAll(keepingCapacity: true)
        spareJobs = batch
    }

    /// Fires due timers and, when the earliest known deadline has come, sweeps the registrations.
    private func fireDue() {
        let now = self.now
        if timers.contains(where: { $0.at <= now }) {
            let due = timers.filter { $0.at <= now }
            timers.removeAll { $0.at <= now }
            for timer in due { timer.job() }
        }
        guard let sweep = nextSweep, sweep <= now else { return }
        nextSweep = nil
        var expired: [Registration] = []
        for registration in registrations.values {
            guard let deadline = registration.deadline else { continue }
            if deadline <= now {
                registration.deadline = nil
                expired.append(registration)
            } else if nextSweep.map({ deadline < $0 }) ?? true {
                nextSweep = deadline
            }
        }
        // One expiry may close another source (never today, but cheap to respect).
        for registration in expired where registration.active {
            registration.source.deadlinePassed()
        }
    }

    /// How long `epoll_wait` may sleep: until the next timer or deadline sweep, rounded up to whole
    /// milliseconds so the deadline has passed on waking; -1 without either.
    private func timeoutMilliseconds() -> Int32 {
        var next = nextSweep
        for timer in timers where next.map({ timer.at < $0 }) ?? true { next = timer.at }
        guard let next else { return -1 }
        let now = self.now
        guard next > now else { return 0 }
        let (seconds, attoseconds) = (next - now).components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

/// The loop as a task executor: a handler task that prefers it runs on the loop thread, so starting
/// it, and handing its answer to the connection, wake no other thread. Only for work that does not
/// block: every connection waits while a job runs.
extension EventLoop: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        if !execute({ job.runSynchronously(on: executor) }) {
            // The loop has exited: the job still has to run somewhere, or its task never finishes
            // (a handler cancelled at shutdown still returns).
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
        }
    }
}
