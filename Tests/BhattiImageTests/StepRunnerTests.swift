import Foundation
import Testing

@testable import BhattiImage

/// The incremental logic with fake steps: each writes its output and counts its runs.
@Suite struct StepRunnerTests {
    struct Failure: Error {}

    /// A fake pipeline shaped like the real one: b's key includes a's, as the builder's keys do.
    final class Pipeline {
        let dir = TemporaryDirectory("steps")
        var runs: [String] = []
        var aInput = "a-v1"
        var bInput = "b-v1"
        var failB = false
        var withdrawn = 0

        var runner: StepRunner { StepRunner(stampDirectory: "\(dir.path)/.stamps") }

        func steps() -> [BuildStep] {
            [step("a", key: aInput), step("b", key: "\(aInput)\n\(bInput)")]
        }

        private func step(_ name: String, key: String) -> BuildStep {
            let output = "\(dir.path)/\(name).out"
            return BuildStep(name: name, key: key, outputs: [output]) { [self] log in
                runs.append(name)
                log("working")
                if name == "b" && failB { throw Failure() }
                try Data(key.utf8).write(to: URL(fileURLWithPath: output))
            }
        }

        @discardableResult
        func build() throws -> [StepReport] {
            try FileManager.default.createDirectory(atPath: "\(dir.path)/.stamps", withIntermediateDirectories: true)
            runs = []
            return try runner.run(steps(), progress: { _ in }) { self.withdrawn += 1 }
        }
    }

    @Test func firstRunRunsEverythingSecondRunNothing() throws {
        let p = Pipeline()
        let first = try p.build()
        #expect(p.runs == ["a", "b"])
        #expect(first.map(\.ran) == [true, true])
        #expect(p.withdrawn == 1)

        let second = try p.build()
        #expect(p.runs.isEmpty)
        #expect(second.map(\.ran) == [false, false])
        #expect(p.withdrawn == 1)  // nothing changes, so the manifest is not withdrawn
    }

    @Test func changedDownstreamInputRerunsOnlyThatStep() throws {
        let p = Pipeline()
        try p.build()
        p.bInput = "b-v2"  // like a new lohar: only the image step
        try p.build()
        #expect(p.runs == ["b"])
    }

    @Test func changedUpstreamInputRerunsEverythingAfterIt() throws {
        let p = Pipeline()
        try p.build()
        p.aInput = "a-v2"  // like a new kernel: the initramfs key embeds the kernel key
        try p.build()
        #expect(p.runs == ["a", "b"])
    }

    @Test func missingOutputRerunsTheStep() throws {
        let p = Pipeline()
        try p.build()
        try FileManager.default.removeItem(atPath: "\(p.dir.path)/a.out")
        try p.build()
        #expect(p.runs == ["a"])
    }

    @Test func failedStepLeavesNoStampAndIsRetried() throws {
        let p = Pipeline()
        p.failB = true
        #expect(throws: Failure.self) { try p.build() }
        #expect(p.runs == ["a", "b"])
        #expect(!p.dir.exists(".stamps/b"))

        p.failB = false
        try p.build()
        #expect(p.runs == ["b"])
    }

    @Test func revertedInputAfterACrashIsNotVouchedForByAnOldStamp() throws {
        let p = Pipeline()
        try p.build()
        // Simulate: b reran with a new input, replaced its output, and crashed before its stamp.
        p.bInput = "b-v2"
        p.failB = true
        #expect(throws: Failure.self) { try p.build() }
        try Data("b built from b-v2".utf8).write(to: URL(fileURLWithPath: "\(p.dir.path)/b.out"))
        // Back to the old input: the old stamp is gone, so b rebuilds instead of trusting the output.
        p.bInput = "b-v1"
        p.failB = false
        try p.build()
        #expect(p.runs == ["b"])
    }

    @Test func progressLinesCarryStepNumbersAndDurations() throws {
        let p = Pipeline()
        try FileManager.default.createDirectory(atPath: "\(p.dir.path)/.stamps", withIntermediateDirectories: true)
        var lines: [String] = []
        _ = try p.runner.run(p.steps(), progress: { lines.append($0) })
        #expect(lines.first == "[1/2] a: working")
        #expect(lines.contains { $0.hasPrefix("[2/2] b: done in ") && $0.hasSuffix(" s") })
        lines = []
        _ = try p.runner.run(p.steps(), progress: { lines.append($0) })
        #expect(lines == ["[1/2] a: up to date", "[2/2] b: up to date"])
    }

    @Test func secondsFormatting() {
        #expect(formatSeconds(0.4213) == "0.42 s")
        #expect(formatSeconds(12.34) == "12.3 s")
        #expect(formatSeconds(65.2) == "1 min 05 s")
    }
}
