import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation

/// The thermal tiers (hot ⇄ warm ⇄ cold) on real VMs through the real daemon. The daemon's idle
/// timers are off for the bench, so every transition here is one the bench asked for.
struct ThermalBench {
    let daemon: Daemon
    let api: BenchAPI
    /// Pause/resume pairs on one hot VM.
    let cycles: Int
    /// Warm wakes, each paired with a hot exec on the same sandbox.
    let warmWakes: Int
    /// Stop → settle → wake rounds of the 1 GiB sandbox.
    let coldWakes: Int
    /// Cold sandboxes woken at once, and how many times.
    let fleet: Int
    let fleetRounds: Int
    /// Creates from a template, on a second daemon with templates on.
    let templateCreates: Int

    func run() async throws -> ThermalReport {
        var report = ThermalReport()
        if cycles > 0 || warmWakes > 0 { try await pauseAndWarm(&report) }
        if coldWakes > 0 { try await cold(&report) }
        if fleet > 0 && fleetRounds > 0 { try await fleetWake(&report) }
        if templateCreates > 0 { try await templateCreate(&report) }
        return report
    }

    /// Engine-level pause/resume, then warm wakes through the API interleaved with hot execs.
    private func pauseAndWarm(_ report: inout ThermalReport) async throws {
        log("thermal: pause/resume and warm wakes")
        let id = try await create("thermal", memoryMB: 512)
        for _ in 0..<10 { try await api.execTrue("thermal") }
        var pause = Samples("pause", how: "Engine.pause: QMP `stop` round trip on a hot 512 MiB VM, alternating with resume")
        var resume = Samples("resume", how: "Engine.resume: QMP `cont` round trip on the same VM")
        for _ in 0..<cycles {
            pause.add(try await measure { try await daemon.engine.pause(id: id) })
            resume.add(try await measure { try await daemon.engine.resume(id: id) })
        }
        var pauseAPI = Samples("pause, API", how: "POST …/pause: hot → warm, QMP `stop` plus the store update")
        var warm = Samples("warm resume + exec `true`, API", how: "POST …/exec on a warm sandbox: the wake (QMP `cont`), then the exec")
        var hot = Samples("hot exec `true`, API (interleaved)", how: "POST …/exec on the same sandbox while hot, paired with each warm one")
        var paired = Samples("  warm − hot, paired", how: "each warm sample minus its hot partner: the wake's own cost")
        var start = Samples("start (warm → hot), API", how: "POST …/start on a warm sandbox, no exec: QMP `cont` plus the store update")
        for i in 0..<warmWakes {
            // Alternating which goes first, so neither always follows the other.
            let hotFirst = i.isMultiple(of: 2)
            // Each exec follows the same 20 ms of quiet, so neither meets caches the other just warmed.
            var h = Duration.zero
            if hotFirst {
                try await Task.sleep(for: .milliseconds(20))
                h = try await measure { try await api.execTrue("thermal") }
            }
            pauseAPI.add(try await measure { try await api.expect(200, "POST", "/v1/sandboxes/thermal/pause") })
            try await Task.sleep(for: .milliseconds(20))
            let w = try await measure { try await api.execTrue("thermal") }
            if !hotFirst {
                try await Task.sleep(for: .milliseconds(20))
                h = try await measure { try await api.execTrue("thermal") }
            }
            warm.add(w)
            hot.add(h)
            paired.add(ms: Samples.ms(w) - Samples.ms(h))
            // The wake without an exec: what of the difference is the daemon's own.
            try await api.expect(200, "POST", "/v1/sandboxes/thermal/pause")
            try await Task.sleep(for: .milliseconds(20))
            start.add(try await measure { try await api.expect(200, "POST", "/v1/sandboxes/thermal/start") })
        }
        try await expectState("thermal", "hot")
        try await api.expect(200, "DELETE", "/v1/sandboxes/thermal")
        report.rows += [pause, resume, pauseAPI, warm, hot, paired, start]
        report.target("pause p50", goal: "≤ 1 ms", pause.percentile(0.5), met: pause.percentile(0.5) <= 1)
        report.target("resume p50", goal: "≤ 1 ms", resume.percentile(0.5), met: resume.percentile(0.5) <= 1)
        let gap = warm.percentile(0.5) - hot.percentile(0.5)
        report.target(
            "warm resume + exec p50 − hot exec p50", goal: "≤ 1 ms", gap, met: gap <= 1,
            detail: String(format: "%.1f vs %.1f; paired median %.3f", warm.percentile(0.5), hot.percentile(0.5), paired.percentile(0.5)))
    }

    /// A 1 GiB sandbox taken cold and woken again: the stop call, the background write-back and
    /// eviction of its RAM file (watched with mincore), what stays cached, and the wake by exec.
    private func cold(_ report: inout ThermalReport) async throws {
        log("thermal: cold 1 GiB")
        let id = try await create("cold-1g", memoryMB: 1024)
        for _ in 0..<5 { try await api.execTrue("cold-1g") }
        let memory = VMPaths(dataDirectory: daemon.configuration.dataDirectory, id: id).memory
        var before = Samples(
            "RAM file cached before stop (MiB)", how: "page-cache residency of the 1 GiB RAM file while hot (mincore), MiB not ms")
        var stop = Samples(
            "cold snapshot, 1 GiB (stop)",
            how: "POST …/stop on a hot 1 GiB sandbox until it answers `cold`: device state to disk, QEMU ended")
        var evict = Samples(
            "  write-back + eviction after it", how: "from the stop's answer until mincore finds none of the RAM file cached (10 ms polls)")
        var after = Samples(
            "RAM file cached once settled (MiB)", how: "mincore over the cold sandbox's RAM file 100 ms after eviction ended, MiB not ms")
        var wake = Samples(
            "cold resume + exec `true`, API",
            how: "POST …/exec on the cold sandbox: QEMU start, device state load, lazy RAM from disk, exec")
        var restore = Samples(
            "start (cold → hot), API", how: "POST …/start on the cold sandbox, no exec: the restore alone (agent connected)")
        for i in 0..<coldWakes {
            log("cold round \(i + 1)/\(coldWakes)")
            try await Task.sleep(for: .milliseconds(500))
            before.add(ms: try await Blocking.run { try PageCache.residentMiB(memory) })
            stop.add(
                try await measure {
                    let r = try await api.expect(200, "POST", "/v1/sandboxes/cold-1g/stop")
                    let state = try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body)).state
                    guard state == "cold" else { throw BenchError("stop answered state \(state)") }
                })
            let settled = try await settle([memory], timeout: .seconds(60))
            evict.add(settled ?? .seconds(60))
            if settled == nil { report.notes.append("A cold round's RAM file was still cached 60 s after the stop.") }
            try await Task.sleep(for: .milliseconds(100))
            after.add(ms: try await Blocking.run { try PageCache.residentMiB(memory) })
            wake.add(try await measure { try await api.execTrue("cold-1g") })
            // Once more without the exec: the restore's own share of the wake.
            try await api.expect(200, "POST", "/v1/sandboxes/cold-1g/stop")
            _ = try await settle([memory], timeout: .seconds(60))
            restore.add(try await measure { try await api.expect(200, "POST", "/v1/sandboxes/cold-1g/start") })
            try await api.execTrue("cold-1g")
        }
        try await expectState("cold-1g", "hot")
        try await api.expect(200, "DELETE", "/v1/sandboxes/cold-1g")
        report.rows += [before, stop, evict, after, wake, restore]
        report.target("cold snapshot of 1 GiB p50", goal: "≤ 50 ms", stop.percentile(0.5), met: stop.percentile(0.5) <= 50)
        report.target("cold resume + exec p50", goal: "≤ 150 ms", wake.percentile(0.5), met: wake.percentile(0.5) <= 150)
        if let first = wake.values.first {
            report.notes.append(
                String(
                    format:
                        "The first cold wake after boot took %.1f ms (resume + exec): its snapshot kept no read-ahead list, since a freshly booted guest has touched more than the list's 48 MiB cap, so its pages fault in from disk. Every later wake reads ahead the pages its guest touched.",
                    first))
        }
        let cached = after.values.max() ?? .nan
        report.target("RAM file in page cache once cold (worst round)", goal: "0 MiB", cached, met: cached == 0, unit: "MiB")
    }

    /// `fleet` small sandboxes booted, taken cold, then all woken by one exec each at the same time.
    private func fleetWake(_ report: inout ThermalReport) async throws {
        let names = (0..<fleet).map { "fleet-\($0)" }
        var memories: [String: String] = [:]
        // Two at a time: one boot per core.
        for start in stride(from: 0, to: names.count, by: 2) {
            log("fleet boot \(start + 1)/\(names.count)")
            let batch = Array(names[start..<min(start + 2, names.count)])
            let ids = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for name in batch { group.addTask { (name, try await create(name, memoryMB: 256)) } }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            for (name, id) in ids { memories[name] = VMPaths(dataDirectory: daemon.configuration.dataDirectory, id: id).memory }
        }
        var wall = Samples(
            "\(fleet) concurrent cold wakes, wall",
            how: "one POST …/exec `true` to each of \(fleet) cold 256 MiB sandboxes at once, until all answered")
        var each = Samples("  per request", how: "each of those requests' own latency (all rounds)")
        var failures: [String] = []
        var live = names
        for round in 0..<fleetRounds {
            log("fleet round \(round + 1)/\(fleetRounds): stop")
            for name in live { try await api.expect(200, "POST", "/v1/sandboxes/\(name)/stop") }
            if try await settle(live.compactMap { memories[$0] }, timeout: .seconds(120)) == nil {
                report.notes.append("Fleet round \(round + 1): some RAM files were still cached 120 s after the stops.")
            }
            log("fleet round \(round + 1)/\(fleetRounds): wake")
            var failed: [String] = []
            wall.add(
                await measure {
                    let results = await withTaskGroup(of: (String, Result<Duration, any Error>).self) { group in
                        for name in live {
                            group.addTask {
                                let start = ContinuousClock.now
                                do {
                                    try await api.execTrue(name)
                                    return (name, .success(ContinuousClock.now - start))
                                } catch { return (name, .failure(error)) }
                            }
                        }
                        return await group.reduce(into: []) { $0.append($1) }
                    }
                    for (name, result) in results {
                        switch result {
                        case .success(let d): each.add(d)
                        case .failure(let e):
                            failed.append(name)
                            failures.append("\(name): \(e)")
                        }
                    }
                })
            // A failed wake leaves its sandbox in `error`: later rounds go on without it.
            live.removeAll { failed.contains($0) }
        }
        for name in names { _ = try? await api.call("DELETE", "/v1/sandboxes/\(name)") }
        report.rows += [wall, each]
        report.notes.append(
            "Concurrent wakes: \(fleet) sandboxes of 256 MiB, \(fleetRounds) round(s), each preceded by stopping all and waiting "
                + String(
                    format: "until none of their RAM files is cached. The fastest single wake took %.0f ms. ", each.values.min() ?? .nan)
                + "\(failures.isEmpty ? "Every wake succeeded." : "\(failures.count) wakes failed: \(failures.prefix(3).joined(separator: "; "))")"
        )
    }

    // MARK: helpers

    /// Instant create: a second daemon with templates on; its first create boots and builds the
    /// template in the background, later creates of that size copy and restore it.
    private func templateCreate(_ report: inout ThermalReport) async throws {
        log("thermal: creates from a template")
        let data = Bench.dataRoot + "/bench-thermal-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var config = DaemonConfiguration.isolated(dataDirectory: data, imageDirectory: daemon.configuration.resolvedImageDirectory)
        config.warmAfter = "off"
        config.coldAfter = "off"
        config.templates = true
        let second = try await Daemon.start(config, log: Logger(sink: { _ in }))
        defer { try? FileManager.default.removeItem(atPath: data) }
        do {
            let api2 = BenchAPI(second)
            try await api2.expect(201, "POST", "/v1/sandboxes", #"{"name":"seed","memory_mb":512}"#)
            let deadline = ContinuousClock.now + .seconds(180)
            while try await second.engine.template(cpus: 1, memoryMB: 512, image: config.resolvedImageDirectory) == nil {
                guard ContinuousClock.now < deadline else { throw BenchError("no template after 180 s") }
                try await Task.sleep(for: .milliseconds(100))
            }
            var samples = Samples(
                "create → first exec, from a template",
                how:
                    "POST /v1/sandboxes (1 vCPU, 512 MiB) then exec `true`: sparse copy of the template's RAM and disk, restore, new identity"
            )
            for i in 0..<templateCreates {
                samples.add(
                    try await measure {
                        try await api2.expect(201, "POST", "/v1/sandboxes", "{\"name\":\"t\(i)\",\"memory_mb\":512}")
                        try await api2.execTrue("t\(i)")
                    })
                try await api2.expect(200, "DELETE", "/v1/sandboxes/t\(i)")
            }
            report.rows.append(samples)
            let p50 = samples.percentile(0.5)
            report.target("create → first exec from a template p50", goal: "≤ 400 ms", p50, met: p50 <= 400)
        } catch {
            await second.stop()
            throw error
        }
        await second.stop()
    }

    private func create(_ name: String, memoryMB: Int) async throws -> String {
        let r = try await api.expect(201, "POST", "/v1/sandboxes", "{\"name\":\"\(name)\",\"cpus\":1,\"memory_mb\":\(memoryMB)}")
        let id = try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body)).id
        try await api.execTrue(name)
        return id
    }

    private func expectState(_ name: String, _ state: String) async throws {
        let r = try await api.expect(200, "GET", "/v1/sandboxes/\(name)")
        let now = try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body)).state
        guard now == state else { throw BenchError("\(name) is \(now), expected \(state)") }
    }

    /// Polls until none of `paths` has a page cached; the time that took, or nil past `timeout`.
    private func settle(_ paths: [String], timeout: Duration) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            let cached = try await Blocking.run { try paths.reduce(0) { $0 + (try PageCache.residentBytes($1)) } }
            if cached == 0 { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

}
