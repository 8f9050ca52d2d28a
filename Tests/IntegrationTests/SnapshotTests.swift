import BhattiAPI
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Forks, named snapshots and template creates on real VMs through the API.
@Suite("Snapshots, forks and templates", .serialized, .timeLimit(.minutes(10)))
struct SnapshotTests {
    func sandbox(_ r: HTTPClientResponse) throws -> SandboxDTO { try JSONDecoder().decode(SandboxDTO.self, from: Data(r.body)) }

    @Test("a fork has the parent's memory and disk, its own identity and randomness, and is independent")
    func fork() async throws {
        try await withDaemon { d in
            _ = try await d.create("parent")
            _ = try await d.exec("parent", ["sh", "-c", "echo disk > /workspace/f; echo ram > /dev/shm/m; export X=1"])
            let r = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"child","from":"parent"}"#)
            #expect(r.status == 201, "\(r.text)")
            let child = try sandbox(r)
            #expect(child.state == "hot")
            #expect(child.memoryMB == 512)
            #expect(try await d.exec("child", ["cat", "/workspace/f", "/dev/shm/m"]).stdout == "disk\nram\n")
            #expect(try await d.exec("child", ["hostname"]).stdout == "child\n")
            #expect(try await d.exec("parent", ["hostname"]).stdout == "parent\n")
            // Independent from here on, both ways.
            _ = try await d.exec("child", ["sh", "-c", "echo child > /workspace/f; echo child > /dev/shm/m"])
            #expect(try await d.exec("parent", ["cat", "/workspace/f", "/dev/shm/m"]).stdout == "disk\nram\n")
            _ = try await d.exec("parent", ["sh", "-c", "echo parent > /workspace/g"])
            #expect(try await d.exec("child", ["sh", "-c", "test -e /workspace/g; echo $?"]).stdout == "1\n")
            // The same memory, reseeded: the two guests do not produce the same random bytes.
            let a = try await d.exec("parent", ["sh", "-c", "head -c 16 /dev/urandom | od -An -tx1"]).stdout
            let b = try await d.exec("child", ["sh", "-c", "head -c 16 /dev/urandom | od -An -tx1"]).stdout
            #expect(a != b)
            // A fork takes its size from the source.
            let sized = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"c2","from":"parent","memory_mb":1024}"#)
            #expect(sized.status == 400)
            #expect(try await d.call("POST", "/v1/sandboxes", json: #"{"name":"c3","from":"nope"}"#).status == 404)
        }
    }

    @Test("named snapshots: create, list, restore into new independent sandboxes, delete; errors")
    func named() async throws {
        try await withDaemon { d in
            _ = try await d.create("origin")
            _ = try await d.exec("origin", ["sh", "-c", "echo v1 > /workspace/v; echo v1 > /dev/shm/v"])
            let created = try await d.call("POST", "/v1/sandboxes/origin/snapshots", json: #"{"name":"first"}"#)
            #expect(created.status == 201, "\(created.text)")
            let snap = try JSONDecoder().decode(SnapshotDTO.self, from: Data(created.body))
            #expect(snap.name == "first")
            #expect(snap.sizeBytes > 0)
            // The source keeps running and changes afterwards do not reach the snapshot.
            #expect(try await d.get("origin").state == "hot")
            _ = try await d.exec("origin", ["sh", "-c", "echo v2 > /workspace/v; echo v2 > /dev/shm/v"])
            #expect(try await d.call("POST", "/v1/sandboxes/origin/snapshots", json: #"{"name":"first"}"#).status == 409)
            let list = try JSONDecoder().decode([SnapshotDTO].self, from: Data(try await d.call("GET", "/v1/snapshots").body))
            #expect(list.map(\.name) == ["first"])

            let restored = try await d.call("POST", "/v1/snapshots/first/restore", json: #"{"name":"copy1"}"#)
            #expect(restored.status == 201, "\(restored.text)")
            #expect(try sandbox(restored).name == "copy1")
            #expect(try await d.exec("copy1", ["cat", "/workspace/v", "/dev/shm/v"]).stdout == "v1\nv1\n")
            let second = try await d.call("POST", "/v1/snapshots/first/restore", json: #"{"name":"copy2"}"#)
            #expect(second.status == 201)
            _ = try await d.exec("copy1", ["sh", "-c", "echo mine > /workspace/v"])
            #expect(try await d.exec("copy2", ["cat", "/workspace/v"]).stdout == "v1\n")
            #expect(try await d.exec("origin", ["cat", "/workspace/v"]).stdout == "v2\n")

            #expect(try await d.call("DELETE", "/v1/snapshots/first").status == 200)
            #expect(try await d.call("POST", "/v1/snapshots/first/restore", json: "{}").status == 404)
            #expect(try await d.call("DELETE", "/v1/snapshots/first").status == 404)
            #expect(try await d.call("POST", "/v1/sandboxes/nope/snapshots", json: #"{"name":"x"}"#).status == 404)
            #expect(try await d.call("POST", "/v1/sandboxes/origin/snapshots", json: #"{"name":"Bad Name"}"#).status == 400)
            #expect(try await d.call("GET", "/v1/snapshots/first/restore").status == 405)
            // Restored sandboxes survive their snapshot's deletion.
            #expect(try await d.exec("copy2", ["true"]).exitCode == 0)
        }
    }

    @Test("with templates on, the first create of a size builds a template and the next restores it")
    func templates() async throws {
        let d = try await TestDaemon.start(templates: true)
        do {
            _ = try await d.create("first")
            _ = try await eventually(interval: .milliseconds(200)) { d.logEvents.count("template.built") > 0 }
            #expect(d.logEvents.count("template.built") == 1)
            _ = try await d.create("second")
            #expect(d.logEvents.count("sandbox.created:template") == 1)
            #expect(try await d.exec("second", ["hostname"]).stdout == "second\n")
            #expect(try await d.exec("second", ["sh", "-c", "id -u; pwd"]).stdout == "1000\n/workspace\n")
            // Two sandboxes from one template are independent.
            _ = try await d.create("third")
            _ = try await d.exec("second", ["sh", "-c", "echo two > /workspace/x"])
            #expect(try await d.exec("third", ["sh", "-c", "cat /workspace/x 2>/dev/null || echo none"]).stdout == "none\n")
            // A bigger disk from the same template: the restored guest sees its disk grow and fills it.
            let big = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"big","memory_mb":512,"disk_mb":1024}"#)
            #expect(big.status == 201, "\(big.text)")
            #expect(d.logEvents.count("sandbox.created:template") == 3)
            let df = try await d.exec("big", ["sh", "-c", "df -B1M --output=size / | tail -1"]).stdout
            #expect((960...1024).contains(Int(df.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0), "\(df)")
        } catch {
            await d.stop()
            throw error
        }
        await d.stop()
    }

    @Test("a daemon stopped while a template is still booting leaves no QEMU behind")
    func stopDuringTemplateBuild() async throws {
        let d = try await TestDaemon.start(templates: true)
        _ = try await d.create("first")
        // The template's VM boots in the background now; stop before it is done.
        let building = try await eventually(interval: .milliseconds(20)) { qemuProcesses(mentioning: d.dataDirectory).count >= 2 }
        #expect(building, "the template's QEMU started")
        await d.stop()
        try await Task.sleep(for: .milliseconds(200))
        #expect(qemuProcesses(mentioning: d.dataDirectory).isEmpty, "a QEMU outlived the daemon")
        #expect(!FileManager.default.fileExists(atPath: d.dataDirectory), "something wrote to the data directory after the daemon stopped")
    }
}
