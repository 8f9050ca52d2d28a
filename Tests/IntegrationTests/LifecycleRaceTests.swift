import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Destroy against a create in flight, with real VMs and networking: one outcome wins, and nothing
/// runs, stays on disk or holds an address that the store does not know.
@Suite("Lifecycle races", .serialized, .timeLimit(.minutes(10)))
struct LifecycleRaceTests {
    /// Taps in the daemon's namespaces whose name comes from `id`.
    static func taps(of id: String, in d: TestDaemon) async throws -> [String] {
        guard let network = d.daemon.network else { return [] }
        var found: [String] = []
        for index in await network.existing() {
            let links = try await Blocking.run {
                try runTool("/usr/sbin/ip", ["-n", network.namespace(index: index), "-o", "link", "show"])
            }
            found += links.split(separator: "\n").map(String.init).filter { $0.contains("t" + id.prefix(12)) }
        }
        return found
    }

    @Test(
        "DELETE while a create boots: either the create fails clearly or it succeeds and is then removed; no QEMU, directory, tap or address is left either way"
    )
    func destroyRacingCreate() async throws {
        try await withDaemon(configure: { NetworkTests.networked(&$0) }) { d in
            let creating = Task { try await d.call("POST", "/v1/sandboxes", json: #"{"name":"k","memory_mb":512}"#) }
            // The record exists, with its address, and its QEMU has started: the VM boots, and that is
            // when the DELETE comes.
            var seen: SandboxDTO?
            let deadline = ContinuousClock.now + .seconds(120)
            while seen == nil, ContinuousClock.now < deadline {
                if let r = try? await d.get("k"), r.state == "creating", r.ip != nil, !qemuProcesses(mentioning: r.id).isEmpty {
                    seen = r
                } else {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            let raced = try #require(seen, "the create was never seen in state creating")
            let deleted = try await d.call("DELETE", "/v1/sandboxes/k")
            let created = try await creating.value
            #expect(deleted.status == 200, "\(deleted.text)")
            if created.status == 201 {
                // The create won; the DELETE came after it and removed it.
                #expect(try JSONDecoder().decode(SandboxDTO.self, from: Data(created.body)).id == raced.id)
            } else {
                #expect(created.status == 409, "\(created.status) \(created.text)")
                #expect(created.text.contains("destroyed while it was being created"), "\(created.text)")
            }
            // Store and reality agree: no record, no QEMU, no directory, no tap.
            #expect(try await d.call("GET", "/v1/sandboxes/k").status == 404)
            let listed = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(listed.isEmpty, "\(listed.map(\.name))")
            #expect(qemuProcesses(mentioning: raced.id).isEmpty, "a QEMU runs on for a sandbox the store forgot")
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/sandboxes/" + raced.id))
            #expect(try await Self.taps(of: raced.id, in: d).isEmpty)
            // Its address is free again, and now nothing else uses it.
            let next = try await d.create("next")
            #expect(next.ip == raced.ip)
            #expect(try await d.exec("next", ["true"]).exitCode == 0)
        }
    }
}
