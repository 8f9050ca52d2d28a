import BhattiHTTP
import Foundation

/// A neighbour's exec beside a fork bomb: `exec true` on one sandbox while its neighbour (1 vCPU) is
/// idle, then while the neighbour runs a CPU-bound fork bomb. The bomber's cgroup caps its QEMU, so the
/// second stays near the first (target: within 3×). `make test` holds only what cannot flake: that the
/// exec completes and the bomb stays within its quota (`NoisyNeighbourTests`).
struct NoisyNeighbourBench {
    let samples: Int

    func run(_ api: BenchAPI) async throws -> (rows: [Samples], note: String) {
        try await api.expect(201, "POST", "/v1/sandboxes", #"{"name":"victim","cpus":1,"memory_mb":256}"#)
        try await api.expect(201, "POST", "/v1/sandboxes", #"{"name":"bomber","cpus":1,"memory_mb":256}"#)
        let exec = #"{"cmd":["true"]}"#
        var idle = Samples("exec `true`, API, neighbour idle", how: "POST …/exec on one sandbox while its 1-vCPU neighbour idles")
        var loaded = Samples(
            "exec `true`, API, neighbour fork-bombing",
            how: "the same while the neighbour runs a CPU-bound fork bomb (its cgroup caps its QEMU)")
        for _ in 0..<10 { try await api.execTrue("victim") }
        for _ in 0..<samples { idle.add(try await api.timed("POST", "/v1/sandboxes/victim/exec", exec)) }
        // Busy loops that fork more busy loops, detached so the exec returns; the guest's own limits
        // (its pids and memory) stop it inside.
        let bomb = #"nohup sh -c 'b() { (while :; do :; done) & b & }; b' >/dev/null 2>&1 &"#
        let started = try await api.call("POST", "/v1/sandboxes/bomber/exec", #"{"cmd":["sh","-c","\#(bomb)"],"detach":true}"#)
        guard started.status < 300 else { throw BenchError("fork bomb: \(started.status) \(started.text)") }
        // Time for the bomb to fill its guest before the samples start.
        try await Task.sleep(for: .seconds(2))
        for _ in 0..<samples { loaded.add(try await api.timed("POST", "/v1/sandboxes/victim/exec", exec)) }
        try await api.expect(200, "DELETE", "/v1/sandboxes/bomber")
        try await api.expect(200, "DELETE", "/v1/sandboxes/victim")
        let (quiet, busy) = (idle.percentile(0.5), loaded.percentile(0.5))
        let note = String(
            format:
                "noisy neighbour: exec `true` p50 %.1f ms beside an idle neighbour, %.1f ms beside a 1-vCPU fork bomb (%.2f×; target ≤ 3×)",
            quiet, busy, busy / quiet)
        return ([idle, loaded], note)
    }
}
