import BhattiEngine
import BhattiWire
import Testing

@Suite("The agent's activity reply carries memory and disk")
struct ActivityMetricsTests {
    @Test(
        "asked for usage: memory (used within total, cache within total) and the root file system's size, from this machine's /proc and /; not asked: neither"
    )
    func memoryAndDisk() async throws {
        let h = try await AgentHarness.start()
        // The idle probes' plain request leaves them out: the guest reads them only when asked.
        let plain = try await h.connection.activity()
        #expect(plain.memTotalBytes == nil && plain.diskTotalBytes == nil, "\(plain)")
        let activity = try await h.connection.activity(usage: true)
        let total = try #require(activity.memTotalBytes)
        let used = try #require(activity.memUsedBytes)
        let cache = try #require(activity.memCacheBytes)
        #expect(total > 0 && (0...total).contains(used) && (0...total).contains(cache), "\(activity)")
        let disk = try #require(activity.diskTotalBytes)
        let diskUsed = try #require(activity.diskUsedBytes)
        #expect(disk > 0 && (0...disk).contains(diskUsed), "\(activity)")
    }
}
