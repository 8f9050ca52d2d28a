import Foundation

/// The thermal rows, the issue's targets judged against them, and notes, as a RESULTS.md section.
struct ThermalReport {
    struct Target {
        let what: String
        let goal: String
        let measured: String
        let met: Bool
    }

    var rows: [Samples] = []
    var targets: [Target] = []
    var notes: [String] = []

    mutating func target(_ what: String, goal: String, _ value: Double, met: Bool, detail: String = "", unit: String = "ms") {
        let shown = String(format: value < 10 ? "%.3f %@" : "%.1f %@", value, unit) + (detail.isEmpty ? "" : " (\(detail))")
        targets.append(Target(what: what, goal: goal, measured: shown, met: met))
    }

    var markdown: String {
        var out = """
            ## Thermal tiers

            | metric | n | p50 | p95 | p99 | max | how |
            |---|---|---|---|---|---|---|

            """
        out += rows.map(\.row).joined(separator: "\n") + "\n"
        out += """

            What the rows measure: **pause** and **resume** are the engine's QMP `stop` and `cont` round
            trips on one hot VM, back to back (the VM's memory stays where it is). **warm resume + exec** is an
            exec through the API on a paused sandbox, which the daemon resumes before running the command; it
            is interleaved with plain hot execs on the same sandbox, so the paired difference is the wake's own
            cost, free of the guest's drifting spawn time; **start (warm → hot)** is the same wake without an
            exec (QMP `cont` plus the store's update). **cold snapshot** is the API `stop` of a hot 1 GiB
            sandbox: QEMU writes its device state (RAM is skipped: it already lives in a shared file), the
            files are fsynced and checked, and QEMU ends. Writing the RAM file's dirty pages back and dropping
            them from the host's page cache happens after the answer, in the background; **write-back +
            eviction** is how long that takes, watched with mincore over the file, and the **cached once
            settled** row is what mincore still finds afterwards. **cold resume + exec** is an exec on the
            cold sandbox: a new QEMU loads the device state and maps the RAM file, whose pages come back from
            disk as the guest touches them; **start (cold → hot)** is that restore without the exec. The
            **concurrent cold wakes** rows send one exec to each of several cold sandboxes at once. The
            daemon's idle timers are off for the whole bench, so no transition happens that the bench did not
            ask for.

            | target (issue) | goal | measured | met |
            |---|---|---|---|

            """
        out += targets.map { "| \($0.what) | \($0.goal) | \($0.measured) | \($0.met ? "yes" : "no") |" }.joined(separator: "\n") + "\n"
        if !notes.isEmpty { out += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }
}
