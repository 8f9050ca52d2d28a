import BhattiCore
import BhattiEngine
import BhattiStore
import Foundation

/// Each sandbox's recent metrics, for E2B's `get_metrics`: while a sandbox made through the E2B API is
/// hot, its guest is read every `interval` (CPU ticks, memory, disk: the agent's activity reply) and
/// the newest `kept` readings are kept. A warm or cold sandbox is not read, so its history stops, as
/// E2B's does while a sandbox is paused; a destroyed one's is dropped. Other sandboxes are read only
/// once their metrics were asked for through the E2B API: reading every hot sandbox would wake every
/// guest every `interval` for figures no other route shows.
///
/// One loop reads, on the daemon's clock. With nothing to read it waits for a sandbox to go hot
/// (`SandboxService.wentHot`, which `kick` raises too), so an idle daemon, and a test's `ManualClock`,
/// has no timer of it.
actor E2BMetrics {
    static let interval = Duration.seconds(5)
    /// Ten minutes at `interval`.
    static let kept = 120
    /// A guest that has not answered by then (paused under the read) is skipped this round. Real time:
    /// the guest answers in real time, whatever drives the daemon's timers.
    static let readTimeout = Duration.seconds(10)
    /// Guests read at once.
    static let width = 8

    private let service: SandboxService
    private let time: TimeLine
    private let log: Logger
    private var histories: [SandboxID: MetricsHistory] = [:]
    /// When each sandbox was last read, on `time`: one read on demand is not followed at once by another.
    private var readAt: [SandboxID: Duration] = [:]
    /// Sandboxes whose last read failed: each failure is logged once, until a read succeeds again.
    private var failing: Set<SandboxID> = []
    private var sampler: Task<Void, Never>?
    private var stopped = false

    init(service: SandboxService, time: TimeLine, log: Logger) {
        self.service = service
        self.time = time
        self.log = log
    }

    func start() {
        guard sampler == nil, !stopped else { return }
        sampler = Task { await self.run() }
    }

    /// Stops the loop and waits for it: the daemon's stop leaves no read behind.
    func stop() async {
        stopped = true
        let task = sampler
        task?.cancel()
        await task?.value
        sampler = nil
    }

    /// A sandbox it reads may be hot now without having gone hot (an E2B sandbox was just recorded as one).
    nonisolated func kick() { service.wentHot.raise() }

    /// The sandbox's samples, oldest first. A hot sandbox with none yet is read now (and from then on
    /// every `interval` while hot, whether made through E2B or not).
    func samples(of record: SandboxRecord) async -> [MetricSample] {
        let id = record.id
        if record.state == .hot, histories[id] == nil {
            let moment = time.now
            let outcome = await Self.read(id, from: service.engine)
            // Another request may have read it meanwhile: one reading for both.
            if histories[id] == nil {
                await note(outcome, for: id, at: moment)
                kick()
            }
        }
        return histories[id]?.samples ?? []
    }

    private func run() async {
        while !Task.isCancelled {
            let hot: [SandboxID]
            do { hot = try await sampled() } catch {
                log.warning("e2b.metrics_list_failed", ["error": "\(error)"])
                do { try await time.sleep(for: Self.interval) } catch { return }
                continue
            }
            if hot.isEmpty {
                guard await service.wentHot.wait() else { return }
                continue
            }
            let round = time.now
            let due = hot.filter { id in readAt[id].map { $0 <= round - Self.interval } ?? true }
            await read(due, at: round)
            do { try await time.sleep(until: round + Self.interval) } catch { return }
        }
    }

    /// The hot sandboxes to read: those made through E2B, and those with a history. Histories of
    /// sandboxes that are gone are dropped.
    private func sampled() async throws -> [SandboxID] {
        // One query every round: the store's actor is on the exec and wake paths too.
        let sandboxes = try await service.store.sandboxHeat()
        let present = Set(sandboxes.map(\.id))
        for id in histories.keys where !present.contains(id) {
            histories[id] = nil
            readAt[id] = nil
            failing.remove(id)
        }
        return sandboxes.filter { $0.hot && ($0.e2b || histories[$0.id] != nil) }.map(\.id)
    }

    /// Reads `ids`, `width` at a time, and records what each answered.
    private func read(_ ids: [SandboxID], at moment: Duration) async {
        let engine = service.engine
        let outcomes = await withTaskGroup(of: (SandboxID, Result<GuestReading, MetricsReadError>).self) { group in
            var outcomes: [(SandboxID, Result<GuestReading, MetricsReadError>)] = []
            for (i, id) in ids.enumerated() {
                if i >= Self.width, let done = await group.next() { outcomes.append(done) }
                group.addTask { (id, await Self.read(id, from: engine)) }
            }
            for await done in group { outcomes.append(done) }
            return outcomes
        }
        for (id, outcome) in outcomes { await note(outcome, for: id, at: moment) }
    }

    private func note(_ outcome: Result<GuestReading, MetricsReadError>, for id: SandboxID, at moment: Duration) async {
        readAt[id] = moment
        switch outcome {
        case .success(let reading):
            histories[id, default: MetricsHistory(capacity: Self.kept)].record(reading)
            failing.remove(id)
        case .failure(let error):
            // A sandbox paused or destroyed under the read is no failure of its guest.
            guard (try? await service.sandbox(id))?.state == .hot, failing.insert(id).inserted else { return }
            log.warning("e2b.metrics_read_failed", ["sandbox.id": id.rawValue, "error": "\(error)"])
        }
    }

    /// The guest's counters now, or why not within `readTimeout`.
    private static func read(_ id: SandboxID, from engine: any SandboxEngine) async -> Result<GuestReading, MetricsReadError> {
        await withTaskGroup(of: Result<GuestReading, MetricsReadError>?.self) { group in
            group.addTask {
                do {
                    let activity = try await engine.guest(for: id.rawValue).activity(usage: true)
                    return .success(GuestReading(activity, at: Date()))
                } catch {
                    return .failure(.guest(error))
                }
            }
            group.addTask {
                // Cancelled: the read ended first.
                do { try await Task.sleep(for: Self.readTimeout) } catch { return nil }
                return .failure(.timedOut(Self.readTimeout))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let outcome = next { return outcome }
            }
            return .failure(.guest(CancellationError()))
        }
    }
}

/// Why a guest gave no reading.
enum MetricsReadError: Error, CustomStringConvertible {
    case guest(any Error)
    case timedOut(Duration)

    var description: String {
        switch self {
        case .guest(let error): "the guest could not be asked: \(error)"
        case .timedOut(let limit): "the guest did not answer within \(limit)"
        }
    }
}

extension GuestReading {
    init(_ a: GuestActivity, at date: Date) {
        self.init(
            unixMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)), cpuBusyTicks: a.cpuBusyTicks,
            cpuTotalTicks: a.cpuTotalTicks, memTotal: a.memTotalBytes ?? 0, memUsed: a.memUsedBytes ?? 0,
            memCache: a.memCacheBytes ?? 0, diskTotal: a.diskTotalBytes ?? 0, diskUsed: a.diskUsedBytes ?? 0)
    }
}
