import BhattiWire
import Glibc

/// Sets the guest's wall clock from the host's (`FrameType.clock`). A restored or resumed guest's
/// clock reads the moment of its snapshot or pause; steps below a millisecond are left alone, so the
/// host's send latency never jitters a clock that is already right.
enum WallClock {
    /// Whether the clock was stepped (false: already within a millisecond, or the kernel refused).
    @discardableResult
    static func set(_ clock: GuestClock) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let current = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        guard abs(current - clock.nanosecondsSinceEpoch) >= 1_000_000 else { return false }
        var target = timespec(
            tv_sec: Int(clock.nanosecondsSinceEpoch / 1_000_000_000), tv_nsec: Int(clock.nanosecondsSinceEpoch % 1_000_000_000))
        return clock_settime(CLOCK_REALTIME, &target) == 0
    }
}
