import BhattiCore
import Testing

@Suite("Domain types")
struct CoreTests {
    @Test("valid names", arguments: ["dev", "a", "A-1", "x.y_z", String(repeating: "a", count: 63)])
    func validNames(name: String) { #expect(SandboxName(rawValue: name) != nil) }

    @Test("invalid names", arguments: ["", "-dev", ".x", "a/b", "a b", "ünï", String(repeating: "a", count: 64), "../etc"])
    func invalidNames(name: String) {
        #expect(SandboxName(rawValue: name) == nil)
        #expect(throws: BhattiError.self) { try SandboxName.parse(name) }
    }

    @Test("ids are 16 lowercase hex and safe as path components")
    func ids() {
        let id = SandboxID.random()
        #expect(id.rawValue.count == 16)
        #expect(SandboxID(rawValue: id.rawValue) == id)
        #expect(SandboxID(rawValue: "../../etc/passwd") == nil)
        #expect(SandboxID(rawValue: "ABCDEF0123456789") == nil)
    }

    @Test("cpus and memory out of range are refused with the allowed range")
    func specBounds() throws {
        let name = try SandboxName.parse("dev")
        #expect(throws: BhattiError.self) { try SandboxSpec(name: name, cpus: 0) }
        #expect(throws: BhattiError.self) { try SandboxSpec(name: name, cpus: 17) }
        #expect(throws: BhattiError.self) { try SandboxSpec(name: name, memoryMB: 64) }
        do {
            _ = try SandboxSpec(name: name, memoryMB: 1_000_000)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("128"))
        }
        let ok = try SandboxSpec(name: name, cpus: 2, memoryMB: 1024)
        #expect(ok.cpus == 2)
    }

    @Test("label rules")
    func labels() throws {
        try SandboxLabels.validate(["team": "a", "app.kubernetes/part": "x-1_2"])
        for bad in [["": "x"], ["a b": "x"], ["k": "v v"], ["bhatti.sh/x": "y"], [String(repeating: "k", count: 64): "v"]] {
            #expect(throws: BhattiError.self) { try SandboxLabels.validate(bad) }
        }
        let many = Dictionary(uniqueKeysWithValues: (0..<17).map { ("k\($0)", "v") })
        #expect(throws: BhattiError.self) { try SandboxLabels.validate(many) }
    }

    /// Every (state, event) pair: the legal ones and where they lead; all others throw.
    @Test("lifecycle transition table")
    func lifecycle() {
        let legal: [SandboxState: [SandboxEvent: SandboxState]] = [
            .creating: [.booted: .hot, .bootFailed: .error, .vmmDied: .error],
            .hot: [.vmmDied: .error, .paused: .warm, .snapshotted: .cold],
            .warm: [.vmmDied: .error, .resumed: .hot, .snapshotted: .cold],
            .cold: [.restored: .hot],
            .error: [.rebooted: .hot],
        ]
        let events: [SandboxEvent] = [.booted, .bootFailed, .vmmDied, .paused, .resumed, .snapshotted, .restored, .rebooted]
        for state in SandboxState.allCases {
            for event in events {
                if let expected = legal[state]?[event] {
                    #expect((try? SandboxLifecycle.next(state, on: event)) == expected)
                } else {
                    #expect(throws: SandboxLifecycle.InvalidTransition.self) { try SandboxLifecycle.next(state, on: event) }
                }
            }
        }
    }

    /// Free space before a VM starts: its RAM file's missing part plus the growth headroom, or 507.
    @Test("storage budget: what a VM needs and when it is refused")
    func storageBudget() throws {
        let mib: UInt64 = 1 << 20
        let headroom = StorageBudget.headroomBytes
        let needs: [(memoryMB: Int, onDisk: UInt64, expected: UInt64)] = [
            (512, 0, 512 * mib + headroom),
            (512, 200 * mib, 312 * mib + headroom),  // a cold sandbox's RAM file is partly there
            (512, 512 * mib, headroom),
            (512, 600 * mib, headroom),  // never negative
        ]
        for n in needs { #expect(StorageBudget.needed(memoryMB: n.memoryMB, ramBytesOnDisk: n.onDisk) == n.expected) }
        let needed = StorageBudget.needed(memoryMB: 512)
        for free: UInt64? in [needed, needed + 1, nil] {
            try StorageBudget.check(free: free, needed: needed, directory: "/d", for: "create x")
        }
        do {
            try StorageBudget.check(free: 3 * mib, needed: needed, directory: "/d", for: "create x")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .insufficientStorage)
            #expect(
                error.message
                    == "not enough free space in /d to create x: 3 MiB free, 768 MiB needed (its RAM file and 256 MiB for disk growth)")
        }
    }
}
