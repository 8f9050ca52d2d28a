import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiHTTP
import Foundation

/// The per-request cost of multi-tenancy: authenticate the Bearer key and take a rate-limit token,
/// with 10,000 users known to the daemon, and what the limiters hold after all of them called.
struct TenancyBench {
    let users: Int
    let calls: Int

    func run(_ daemon: Daemon) async throws -> (rows: [Samples], note: String) {
        var keys: [String] = []
        keys.reserveCapacity(users)
        for i in 0..<users {
            keys.append(try await daemon.users.create(name: "bench-user-\(i)", maxSandboxes: nil, maxCPUs: nil, maxMemoryMB: nil).key)
        }
        var limits = RateLimits()
        // Generous enough that every measured call is admitted: the allowed path is the common one.
        limits.read = try RateLimit(perMinute: 1_000_000, burst: 1_000_000)
        let gate = Gate(users: daemon.users, limits: limits, events: daemon.service.events)
        let requests = keys.map {
            HTTPRequest(method: "GET", target: "/v1/sandboxes/dev", headers: ["Authorization": "Bearer \($0)", "Host": "localhost"])
        }
        let rssBefore = residentKiB()
        var admit = Samples(
            "auth + rate-limit check",
            how: "Gate.admit in-process: SHA-256 of the key, lookup, constant-time compare, token bucket; \(users) users round-robin")
        var refused = 0
        for i in 0..<calls {
            let request = requests[i % requests.count]
            let start = ContinuousClock.now
            do { _ = try gate.admit(request, route: .sandbox("dev")) } catch { refused += 1 }
            admit.add(ContinuousClock.now - start)
        }
        let grown = residentKiB() - rssBefore
        let note =
            String(
                format: "auth + rate limits: p50 %.1f µs, p99 %.1f µs per request (target ≤ 20 µs). ", admit.percentile(0.5) * 1000,
                admit.percentile(0.99) * 1000)
            + "\(users) users each called the gate; the limiters track \(gate.trackedBuckets) buckets (bounded at \(Gate.trackedUsers) per class), resident memory grew \(grown) KiB meanwhile; \(refused) of \(calls) calls refused."
        return ([admit], note)
    }

    private func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
