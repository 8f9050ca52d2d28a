import BhattiSystem
import Foundation
import Testing

@Suite("/proc/timer_list")
struct TimerListTests {
    static let healthy = """
        Tick Device: mode:     1
        Broadcast device
        Clock Event Device: <NULL>
        tick_broadcast_mask: 0

        Tick Device: mode:     1
        Per CPU device: 0
        Clock Event Device: lapic
         max_delta_ns:   34359601009
         min_delta_ns:   1000
         mult:           268436529
         shift:          32
         mode:           3
        """

    @Test(
        "the lapic device's mult; 0 with no lapic device, or one without a readable mult",
        arguments: [
            (healthy, 268_436_529),
            (healthy.replacingOccurrences(of: "Clock Event Device: lapic", with: "Clock Event Device: hpet"), 0),
            (healthy.replacingOccurrences(of: "268436529", with: "x"), 0),
            ("Clock Event Device: <NULL>\n mult: 5\n", 0),
            ("", 0),
        ])
    func lapicMult(_ text: String, _ expected: Int) {
        #expect(TimerList.lapicMult(in: text) == expected)
    }
}
