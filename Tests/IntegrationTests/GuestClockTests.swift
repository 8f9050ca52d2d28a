import BhattiAPI
import Foundation
import Testing

/// The guest's wall clock follows the host's across every way a guest comes back: a warm resume
/// (through an exec's overlapped wake and through `start`) and a cold restore. The guest's clock is
/// first set an hour back, so a guest that kept its own time is caught. (Run on an image whose agent
/// predates the clock frame, it fails: the host then sends none, and the guest still wakes.)
@Suite("Guest wall clock", .serialized, .timeLimit(.minutes(10)))
struct GuestClockTests {
    /// How far the guest's clock is from the host's, in seconds.
    func skew(_ d: TestDaemon, _ sandbox: String) async throws -> Double {
        let out = try await d.exec(sandbox, ["date", "+%s.%N"]).stdout
        let guest = try #require(Double(out.trimmingCharacters(in: .whitespacesAndNewlines)), "date printed \(out)")
        return abs(Date().timeIntervalSince1970 - guest)
    }

    func setHourBack(_ d: TestDaemon, _ sandbox: String) async throws {
        let back = Int(Date().timeIntervalSince1970) - 3600
        let r = try await d.exec(sandbox, ["sudo", "-n", "date", "-s", "@\(back)"])
        #expect(r.exitCode == 0, "\(r.stderr)")
    }

    @Test("warm resume by exec and by start, cold restore: the guest's clock is the host's again")
    func followsTheHost() async throws {
        try await withDaemon { d in
            _ = try await d.create("clk")
            #expect(try await skew(d, "clk") < 60, "a freshly booted guest")

            try await setHourBack(d, "clk")
            #expect(try await skew(d, "clk") > 3000, "the guest's clock could not be set back")
            try await d.post("clk", "pause")
            #expect(try await skew(d, "clk") < 60, "after a warm wake by exec")

            try await setHourBack(d, "clk")
            try await d.post("clk", "pause")
            try await d.post("clk", "start")
            #expect(try await skew(d, "clk") < 60, "after start from warm")

            try await setHourBack(d, "clk")
            try await d.post("clk", "stop")
            #expect(try await skew(d, "clk") < 60, "after a cold restore by exec")
        }
    }
}
