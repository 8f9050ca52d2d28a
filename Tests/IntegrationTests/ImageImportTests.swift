import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Glibc
import Testing

/// `POST /v1/images/{name}/import` and `bhatti image import` on real VMs, with archives umoci and
/// skopeo make here, offline, from the host's static busybox: two layers (the second deletes a file of
/// the first: a whiteout), `Env`, `WorkingDir` and `User` in the config.
@Suite("Image import", .serialized)
struct ImageImportTests {
    static func sh(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-ec", script]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure("script failed (\(p.terminationStatus)): \(script)") }
    }

    /// An `oci-archive` and a `docker-archive` of one two-layer busybox image, in `dir`, whose commands
    /// run as its own user `app`; and `image.ghost.tar`, the same with a `User` its passwd lacks.
    static func makeArchives(in dir: String) throws -> (oci: String, docker: String) {
        try sh(
            """
            umask 022
            cd \(dir)
            umoci init --layout layout
            umoci new --image layout:t
            umoci unpack --image layout:t bundle
            mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/app bundle/rootfs/tmp
            cp /bin/busybox bundle/rootfs/bin/busybox
            for t in sh cat ls pwd env test echo true id; do ln -s busybox bundle/rootfs/bin/$t; done
            printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1500:1600::/home/app:/bin/sh\\n' > bundle/rootfs/etc/passwd
            printf 'root:x:0:\\napp:x:1600:\\n' > bundle/rootfs/etc/group
            echo doomed > bundle/rootfs/etc/gone
            echo kept > bundle/rootfs/etc/kept
            umoci repack --image layout:t bundle
            umoci insert --image layout:t --whiteout /etc/gone
            umoci config --image layout:t --config.env GREETING=hello --config.env PATH=/bin --config.workingdir /app \\
                --config.user app
            skopeo copy --quiet oci:layout:t oci-archive:\(dir)/image.oci.tar
            skopeo copy --quiet oci:layout:t docker-archive:\(dir)/image.docker.tar:bb:latest
            umoci config --image layout:t --config.user ghost
            skopeo copy --quiet oci:layout:t oci-archive:\(dir)/image.ghost.tar
            """)
        return (dir + "/image.oci.tar", dir + "/image.docker.tar")
    }

    @Test(
        "import through the API and the CLI; the VM sees the image's env, working dir and whiteout; bad archive 400; name taken 409; private"
    )
    func importAndBoot() async throws {
        let dir = "/tmp/bhi-import-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (oci, docker) = try Self.makeArchives(in: dir)
        try await withDaemon { d in
            let ann = try await ImageTests.user(d, "ann")
            let bob = try await ImageTests.user(d, "bob")
            func upload(_ key: String, _ name: String, _ body: [UInt8]) async throws -> HTTPClientResponse {
                try await d.raw(
                    "POST", APIRoute.importImage(name).path, headers: ["Authorization": "Bearer \(key)"], body: body)
            }
            let archive = Array(try Data(contentsOf: URL(fileURLWithPath: oci)))

            // A user's import is private to them.
            let made = try await upload(ann.key, "bb", archive)
            #expect(made.status == 201 && made.text.contains(#""visibility":"private""#), "\(made.text)")
            #expect(made.text.contains(#""working_dir":"/app""#) && made.text.contains("GREETING"), "\(made.text)")
            #expect(try await d.raw("GET", "/v1/images/bb", headers: ["Authorization": "Bearer \(bob.key)"]).status == 404)
            let taken = try await upload(bob.key, "bb", archive)
            #expect(taken.status == 409, "\(taken.text)")

            // Not an archive: 400 with the import's reason, and nothing left behind.
            let bad = try await upload(ann.key, "junk", Array(repeating: 0x41, count: 4096))
            #expect(bad.status == 400, "\(bad.text)")
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/images/junk"))
            // Through curl as NDJSON: progress through both layers, then the image; a User the image's
            // passwd lacks fails the import (an error line with the 400 a plain request gets), not every exec.
            func streamed(_ name: String, _ file: String) async throws -> [[String: Any]] {
                let (status, out) = try await curl([
                    "--unix-socket", d.daemon.socketPath, "-H", "Authorization: Bearer \(ann.key)", "-H", "Accept: application/x-ndjson",
                    "--data-binary", "@" + file, "http://localhost" + APIRoute.importImage(name).path,
                ])
                #expect(status == 0, "\(out)")
                return try out.split(separator: "\n").map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\(out)")
                }
            }
            let lines = try await streamed("bbn", oci)
            #expect(
                lines.contains { $0["type"] as? String == "progress" && $0["layers"] as? Int == 2 && $0["layers_done"] as? Int == 2 },
                "\(lines)")
            #expect(lines.contains { $0["type"] as? String == "step" })
            let last = try #require(lines.last)
            #expect(last["type"] as? String == "image" && (last["image"] as? [String: Any])?["name"] as? String == "bbn", "\(lines)")
            let ghost = try #require(try await streamed("ghost", dir + "/image.ghost.tar").last)
            #expect(ghost["type"] as? String == "error" && ghost["status"] as? Int == 400, "\(ghost)")
            #expect((ghost["message"] as? String)?.contains("User ghost") == true, "\(ghost)")
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/images/ghost"))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/images").filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "\(leftovers)")

            // The admin's import through the CLI (a docker archive) is public.
            let cli = try await CLITests().bhatti(["image", "import", "bbd", docker], daemon: d)
            #expect(cli.status == 0 && cli.stdout.contains("image/bbd imported (public"), "\(cli.stdout) \(cli.stderr)")
            let json = try await CLITests().bhatti(["--json", "image", "inspect", "bbd"], daemon: d)
            #expect(json.status == 0 && json.stdout.contains("\"source\" : \"import\""), "\(json.stdout) \(json.stderr)")
            #expect(json.stdout.contains("\"user\" : \"app\""), "\(json.stdout)")

            // Booted: commands start in WorkingDir with Env as User, the whited-out file is gone; a
            // request's own env wins.
            let r = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"b","image":"bbd","memory_mb":512}"#)
            #expect(r.status == 201, "\(r.text)")
            let seen = try await d.exec(
                "b",
                [
                    "sh", "-c",
                    "echo $GREETING; pwd; cat /etc/kept; test -e /etc/gone && echo present || echo gone; id -u; id -g; echo $HOME $USER",
                ])
            #expect(seen.stdout == "hello\n/app\nkept\ngone\n1500\n1600\n/home/app app\n", "\(seen)")
            let own = try await d.call(
                "POST", "/v1/sandboxes/b/exec", json: #"{"cmd":["sh","-c","echo $GREETING; pwd"],"env":{"GREETING":"mine"},"cwd":"/tmp"}"#)
            #expect(own.text.contains("mine") && own.text.contains("/tmp"), "\(own.text)")
            // A fork whose create names env replaces the guest's environment: the image's env, working
            // dir and user stay under it.
            let fork = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"c","from":"b","env":{"EXTRA":"1"}}"#)
            #expect(fork.status == 201, "\(fork.text)")
            let forked = try await d.exec("c", ["sh", "-c", "echo $GREETING $EXTRA; pwd; id -u"])
            #expect(forked.stdout == "hello 1\n/app\n1500\n", "\(forked)")
            #expect(try await d.call("DELETE", "/v1/sandboxes/c").status == 200)
            #expect(try await d.call("DELETE", "/v1/sandboxes/b").status == 200)
        }
    }

    @Test("an archive over max_import_bytes is 413 and leaves nothing; two concurrent imports of one name: one 201, one 409")
    func limitAndConcurrency() async throws {
        let dir = "/tmp/bhi-import-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (oci, _) = try Self.makeArchives(in: dir)
        let archive = Array(try Data(contentsOf: URL(fileURLWithPath: oci)))
        // Room for the archive, not for twice it.
        try await withDaemon(configure: { $0.maxImportBytes = archive.count + 1024 }) { d in
            func upload(_ name: String, _ body: [UInt8]) async throws -> HTTPClientResponse {
                try await d.raw("POST", APIRoute.importImage(name).path, headers: d.authHeaders, body: body)
            }
            let big = try await upload("big", archive + archive)
            #expect(big.status == 413, "\(big.text)")
            #expect(!FileManager.default.fileExists(atPath: d.dataDirectory + "/images/big"))
            let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/images")) ?? []).filter {
                $0.hasPrefix(".")
            }
            #expect(leftovers.isEmpty, "\(leftovers)")

            async let first = upload("same", archive)
            async let second = upload("same", archive)
            let statuses = [try await first.status, try await second.status].sorted()
            #expect(statuses == [201, 409], "\(statuses)")
        }
    }
}
