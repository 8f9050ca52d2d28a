import BhattiSystem
import Synchronization

/// The guest kernel's LAPIC timer calibration, for the hello reply: read once per boot (a restore
/// brings back the same kernel state, and the cache with it).
enum GuestTimer {
    private static let cached = Mutex<Int?>(nil)

    static var lapicMult: Int {
        cached.withLock { value in
            if let value { return value }
            let text = (try? readWholeFile("/proc/timer_list")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let mult = TimerList.lapicMult(in: text)
            value = mult
            return mult
        }
    }
}
