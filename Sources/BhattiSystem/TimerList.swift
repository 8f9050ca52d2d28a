/// What the kernel's `/proc/timer_list` says about its clock event devices.
public enum TimerList {
    /// The `mult` of the `lapic` clock event device (the first one listed: every CPU's is set from
    /// the one boot-time calibration), 0 when none is listed.
    public static func lapicMult(in text: String) -> Int {
        var inLapic = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("Clock Event Device:") {
                inLapic = trimmed.dropFirst("Clock Event Device:".count).drop { $0 == " " } == "lapic"
            } else if inLapic, trimmed.hasPrefix("mult:") {
                return Int(trimmed.dropFirst("mult:".count).drop { $0 == " " }) ?? 0
            }
        }
        return 0
    }
}
