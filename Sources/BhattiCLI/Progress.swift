import Dispatch
import Foundation
import Glibc
import Synchronization

/// A one-line progress display on stderr while slow work runs (a create that boots, a snapshot restore,
/// an image build): a spinner, what is happening and the seconds so far, redrawn ten times a second and
/// erased when the work ends. Only when stdout and stderr are both terminals and `--json` is off, so
/// scripts and pipes see nothing of it.
public enum Progress {
    public static func shown(json: Bool) -> Bool { !json && isatty(1) == 1 && isatty(2) == 1 }

    /// `detail`: more to show after the label, read at each redraw (bytes sent so far, say).
    static func run<T>(_ label: String, json: Bool, detail: (@Sendable () -> String)? = nil, _ body: () throws -> T) rethrows -> T {
        guard shown(json: json) else { return try body() }
        let started = ContinuousClock.now
        let frames = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
        let tick = Atomic<Int>(0)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "bhatti.progress"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(100))
        timer.setEventHandler {
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let frame = frames[tick.add(1, ordering: .relaxed).oldValue % frames.count]
            write("\r\u{1B}[2K\(frame) \(label)\(detail.map { " " + $0() } ?? "") \(String(format: "%.1fs", seconds))")
        }
        timer.resume()
        defer {
            // Cancel on the timer's queue, so no redraw lands after the line is erased.
            let done = DispatchSemaphore(value: 0)
            timer.setCancelHandler { done.signal() }
            timer.cancel()
            done.wait()
            write("\r\u{1B}[2K")
        }
        return try body()
    }

    private static func write(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
