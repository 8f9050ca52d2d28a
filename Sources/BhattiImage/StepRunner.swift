import Foundation

/// One unit of build work, described as data: the runner decides from `key` and `outputs` alone
/// whether it must run, so the incremental logic is testable with fake steps.
struct BuildStep {
    /// Short name, also the stamp file's name ("kernel", "initramfs", ...).
    var name: String
    /// Everything that determines the outputs, as readable text (versions, hashes, options). A later
    /// step's key includes the keys it consumes, so a change upstream reruns it too.
    var key: String
    /// Paths that must all exist for a matching stamp to count.
    var outputs: [String]
    /// Does the work; writes outputs atomically (temp name, then rename). `log` adds progress lines.
    var run: (_ log: (String) -> Void) throws -> Void
}

/// What happened to one step in a run.
struct StepReport: Equatable {
    var name: String
    var ran: Bool
    var seconds: Double
}

/// Runs steps in order, skipping those whose stamp matches their key and whose outputs exist.
struct StepRunner {
    /// Where stamps live: one file per step holding the key it was last built with.
    let stampDirectory: String

    func stampPath(_ step: BuildStep) -> String { "\(stampDirectory)/\(step.name)" }

    /// True when the step's last successful run had the same key and its outputs are all present.
    func isUpToDate(_ step: BuildStep) -> Bool {
        guard let stamp = try? String(contentsOfFile: stampPath(step), encoding: .utf8), stamp == step.key else {
            return false
        }
        return step.outputs.allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }

    /// Runs what is out of date. `beforeFirstChange` runs once, before the first step that will run
    /// (the builder uses it to withdraw the "image complete" marker). A failing step throws and
    /// leaves its stamp absent, so the next run retries it; later steps do not run.
    func run(
        _ steps: [BuildStep], progress: (String) -> Void, beforeFirstChange: () throws -> Void = {}
    ) throws -> [StepReport] {
        var reports: [StepReport] = []
        var changed = false
        for (index, step) in steps.enumerated() {
            let prefix = "[\(index + 1)/\(steps.count)] \(step.name):"
            if isUpToDate(step) {
                progress("\(prefix) up to date")
                reports.append(StepReport(name: step.name, ran: false, seconds: 0))
                continue
            }
            if !changed {
                try beforeFirstChange()
                changed = true
            }
            // Drop the stamp first: if we crash after an output is replaced but before the new stamp
            // is written, an old stamp must not vouch for the new output when inputs are reverted.
            try FileOps.remove(stampPath(step))
            let start = ContinuousClock.now
            try step.run { progress("\(prefix) \($0)") }
            try FileOps.writeAtomically(Array(step.key.utf8), to: stampPath(step))
            let seconds = (ContinuousClock.now - start).seconds
            progress("\(prefix) done in \(formatSeconds(seconds))")
            reports.append(StepReport(name: step.name, ran: true, seconds: seconds))
        }
        return reports
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// "0.42 s", "12.3 s", "1 min 05 s".
func formatSeconds(_ seconds: Double) -> String {
    if seconds < 10 { return String(format: "%.2f s", seconds) }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let whole = Int(seconds.rounded())
    return String(format: "%d min %02d s", whole / 60, whole % 60)
}
