import BhattiWire
import Testing

@Suite("Activity on the wire")
struct ActivityWireTests {
    @Test("memory and disk go out under snake_case keys and read back")
    func roundTrip() throws {
        let activity = Activity(
            lastActivityMs: 1, runningSessions: 0, attachedSessions: 0, runningExecs: 0, cpuBusyTicks: 5, cpuTotalTicks: 9,
            memTotalBytes: 1 << 30, memUsedBytes: 1 << 20, memCacheBytes: 4096, diskTotalBytes: 1 << 31, diskUsedBytes: 1 << 29)
        let frame = Frame(stream: 1, type: .result, payload: WireJSON.encode(activity))
        let text = String(decoding: frame.payload, as: UTF8.self)
        for key in ["mem_total_bytes", "mem_used_bytes", "mem_cache_bytes", "disk_total_bytes", "disk_used_bytes"] {
            #expect(text.contains("\"\(key)\""), "\(text)")
        }
        #expect(try WireJSON.decode(Activity.self, from: frame) == activity)
    }

    @Test("an older agent's reply (no memory or disk) decodes with them nil")
    func olderAgent() throws {
        let old = Frame(
            stream: 1, type: .result,
            payload: Array(
                #"{"last_activity_ms":7,"running_sessions":1,"attached_sessions":0,"running_execs":2,"cpu_busy_ticks":3,"cpu_total_ticks":4}"#
                    .utf8))
        let activity = try WireJSON.decode(Activity.self, from: old)
        #expect(activity.runningExecs == 2 && activity.cpuTotalTicks == 4)
        #expect(activity.memTotalBytes == nil && activity.memUsedBytes == nil && activity.memCacheBytes == nil)
        #expect(activity.diskTotalBytes == nil && activity.diskUsedBytes == nil)
    }
}
