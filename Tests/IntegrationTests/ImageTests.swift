import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiStore
import Foundation
import Glibc
import Testing

/// Named images on real VMs: the configured image is `default`, a second one registered in the data
/// directory boots sandboxes of its own, a private one is its owner's alone, and an image in use
/// cannot be deleted.
@Suite("Images", .serialized)
struct ImageTests {
    /// Registers the test image again as `<data-dir>/images/<name>` (hard links: no copy), owned by
    /// `owner` when given.
    static func register(_ d: TestDaemon, _ name: String, owner: String? = nil) throws {
        let target = d.dataDirectory + "/images/" + name
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for file in ["vmlinuz", "vmlinux", "initramfs", "rootfs.ext4", "image.json"] {
            let source = TestDaemon.imageDirectory + "/" + file
            guard FileManager.default.fileExists(atPath: source) else { continue }
            if link(source, target + "/" + file) != 0 { try FileManager.default.copyItem(atPath: source, toPath: target + "/" + file) }
        }
        if let owner {
            let json = #"{"owner":"\#(owner)","source":"import","created_at":"2026-01-02T03:04:05Z"}"#
            try Data(json.utf8).write(to: URL(fileURLWithPath: target + "/registry.json"))
        }
    }

    static func user(_ d: TestDaemon, _ name: String) async throws -> (key: String, id: String) {
        let r = try await d.call("POST", "/v1/users", json: #"{"name":"\#(name)"}"#)
        guard r.status == 201 else { throw Failure("create user \(name): \(r.status) \(r.text)") }
        let key = try JSONDecoder().decode(UserKeyDTO.self, from: Data(r.body)).apiKey
        let id = try #require(try await d.daemon.users.list().first { $0.name == name }?.id)
        return (key, id)
    }

    @Test("create from default and from a second image; unknown or another user's image is 404; delete refused in use, allowed after")
    func registry() async throws {
        try await withDaemon { d in
            let ann = try await Self.user(d, "ann")
            let bob = try await Self.user(d, "bob")
            try Self.register(d, "second")
            try Self.register(d, "annimg", owner: ann.id)
            func call(_ key: String, _ method: String, _ path: String, _ json: String? = nil) async throws -> HTTPClientResponse {
                try await d.raw(
                    method, path, headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"],
                    body: Array((json ?? "").utf8))
            }
            func names(_ key: String) async throws -> [String] {
                try JSONDecoder().decode([ImageDTO].self, from: Data(try await call(key, "GET", "/v1/images").body)).map(\.name)
            }
            #expect(try await names(d.daemon.adminKey) == ["default", "second"])
            #expect(try await names(ann.key) == ["default", "annimg", "second"])
            #expect(try await names(bob.key) == ["default", "second"])
            let inspected = try await call(ann.key, "GET", "/v1/images/annimg")
            #expect(inspected.status == 200 && inspected.text.contains(#""visibility":"private""#), "\(inspected.text)")
            #expect(try await call(bob.key, "GET", "/v1/images/annimg").status == 404)
            let bobCreate = try await call(bob.key, "POST", "/v1/sandboxes", #"{"name":"x","image":"annimg","memory_mb":512}"#)
            #expect(bobCreate.status == 404 && bobCreate.text.contains("bhatti image list"), "\(bobCreate.text)")
            #expect(try await call(bob.key, "DELETE", "/v1/images/annimg").status == 404)
            let unknown = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"u","image":"ghost","memory_mb":512}"#)
            #expect(unknown.status == 404 && unknown.text.contains("no image ghost (see `bhatti image list`)"), "\(unknown.text)")

            // Without image: the default; with image: that one, booted from its own files.
            let a = try await d.create("a")
            #expect(a.image == "default")
            let r = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"b","image":"second","memory_mb":512}"#)
            #expect(r.status == 201, "\(r.text)")
            #expect(try await d.get("b").image == "second")
            #expect(try await d.exec("b", ["true"]).exitCode == 0)
            let b = try await d.get("b")
            let vm = try #require(FileManager.default.contents(atPath: d.dataDirectory + "/sandboxes/\(b.id)/vm.json"))
            let base = try #require((try JSONSerialization.jsonObject(with: vm) as? [String: Any])?["baseImage"] as? String)
            #expect(base.hasPrefix(d.dataDirectory + "/images/second/bases/"), "\(base)")
            let explicit = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"a","image":"default","memory_mb":512}"#)
            #expect(explicit.status == 200, "an existing sandbox of that name: \(explicit.text)")

            // The CLI shows each sandbox's image.
            let list = try await CLITests().bhatti(["list"], daemon: d)
            #expect(list.stdout.contains("IMAGE") && list.stdout.contains("second"), "\(list.stdout)")
            let inspect = try await CLITests().bhatti(["inspect", "b"], daemon: d)
            #expect(inspect.stdout.contains("Image:     second"), "\(inspect.stdout)")
            let images = try await CLITests().bhatti(["image", "list"], daemon: d)
            #expect(images.status == 0 && images.stdout.contains("second"), "\(images.stdout) \(images.stderr)")

            // In use: 409 naming the sandbox; after its destroy the image goes.
            let refused = try await d.call("DELETE", "/v1/images/second")
            #expect(refused.status == 409 && refused.text.contains("sandbox b"), "\(refused.text)")
            #expect(try await d.call("DELETE", "/v1/sandboxes/b").status == 200)
            #expect(try await d.call("DELETE", "/v1/images/second").status == 200)
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/images/second"))
            #expect(try await d.call("GET", "/v1/images/second").status == 404)
            #expect(try await d.call("DELETE", "/v1/images/default").status == 409)
        }
    }
}
