import BhattiAPI
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// `POST /v1/sandboxes/{id}/image` and `bhatti image save` on real VMs: an image from a sandbox's disk
/// as it is, private to its owner, while the sandbox keeps running.
@Suite("Image save", .serialized)
struct ImageSaveTests {
    @Test("save a sandbox's disk as an image: a new sandbox of it has the files; private to its owner; the source runs on; 409 taken")
    func saveAndBoot() async throws {
        try await withDaemon { d in
            let ann = try await ImageTests.user(d, "ann")
            let bob = try await ImageTests.user(d, "bob")
            func call(_ key: String, _ method: String, _ path: String, _ json: String? = nil) async throws -> HTTPClientResponse {
                try await d.raw(
                    method, path, headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"],
                    body: Array((json ?? "").utf8))
            }
            func run(_ sandbox: String, _ script: String) async throws -> String {
                let body = String(decoding: try JSONEncoder().encode(ExecRequestDTO(cmd: ["sh", "-c", script])), as: UTF8.self)
                let r = try await call(ann.key, "POST", APIRoute.exec(sandbox).path, body)
                guard r.status == 200 else { throw Failure("exec in \(sandbox): \(r.status) \(r.text)") }
                return try JSONDecoder().decode(ExecResultDTO.self, from: Data(r.body)).stdout
            }
            let made = try await call(ann.key, "POST", "/v1/sandboxes", #"{"name":"src","memory_mb":512}"#)
            #expect(made.status == 201, "\(made.text)")
            // Written and not synced by the command: the save's own sync must bring it to the disk.
            _ = try await run("src", "echo saved > /workspace/f; mkdir -p /home/lohar/.config/x; ln -s f /workspace/link")

            let saved = try await call(ann.key, "POST", APIRoute.saveImage("src").path, #"{"name":"snapimg"}"#)
            #expect(saved.status == 201, "\(saved.text)")
            #expect(saved.text.contains(#""visibility":"private""#) && saved.text.contains(#""source":"save""#), "\(saved.text)")
            let registry = try String(contentsOfFile: d.dataDirectory + "/images/snapimg/registry.json", encoding: .utf8)
            #expect(registry.contains(#""sandbox" : "src""#) && registry.contains(ann.id), "\(registry)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/images").filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "\(leftovers)")

            // The source still runs, with its files.
            #expect(try await run("src", "cat /workspace/f") == "saved\n")
            #expect(try await call(ann.key, "GET", "/v1/sandboxes/src").text.contains(#""state":"hot""#))

            // Taken: 409, whoever asks; two saves of one new name at once: one wins, one 409.
            #expect(try await call(ann.key, "POST", APIRoute.saveImage("src").path, #"{"name":"snapimg"}"#).status == 409)
            async let first = call(ann.key, "POST", APIRoute.saveImage("src").path, #"{"name":"twice"}"#)
            async let second = call(ann.key, "POST", APIRoute.saveImage("src").path, #"{"name":"twice"}"#)
            let statuses = [try await first.status, try await second.status].sorted()
            #expect(statuses == [201, 409], "\(statuses)")

            // Another user: neither seen nor bootable.
            #expect(try await call(bob.key, "GET", "/v1/images/snapimg").status == 404)
            let bobCreate = try await call(bob.key, "POST", "/v1/sandboxes", #"{"name":"x","image":"snapimg","memory_mb":512}"#)
            #expect(bobCreate.status == 404, "\(bobCreate.text)")

            // A sandbox of the image has the files.
            let copy = try await call(ann.key, "POST", "/v1/sandboxes", #"{"name":"copy","image":"snapimg","memory_mb":512}"#)
            #expect(copy.status == 201 && copy.text.contains(#""image":"snapimg""#), "\(copy.text)")
            #expect(
                try await run("copy", "cat /workspace/f; readlink /workspace/link; test -d /home/lohar/.config/x && echo dir")
                    == "saved\nf\ndir\n")
            #expect(try await call(ann.key, "DELETE", "/v1/sandboxes/copy").status == 200)

            // The CLI.
            let cli = try await CLITests().bhatti(["image", "save", "src", "--name", "clisave"], daemon: d, key: ann.key)
            #expect(cli.status == 0 && cli.stdout.contains("image/clisave saved from src (private"), "\(cli.stdout) \(cli.stderr)")
            #expect(try await call(ann.key, "DELETE", "/v1/sandboxes/src").status == 200)
        }
    }
}
