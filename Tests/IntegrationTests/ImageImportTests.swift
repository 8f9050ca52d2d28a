import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Glibc
import Testing

/// `POST /v1/images/{name}/import` and `bhatti image import` on real VMs, with archives umoci and
/// skopeo make here, offline, from the host's static busybox: two layers (the second deletes a file of
/// the first: a whiteout), `Env` and `WorkingDir` in the config.
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

    /// An `oci-archive` and a `docker-archive` of one two-layer busybox image, in `dir`.
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
            for t in sh cat ls pwd env test echo true; do ln -s busybox bundle/rootfs/bin/$t; done
            echo doomed > bundle/rootfs/etc/gone
            echo kept > bundle/rootfs/etc/kept
            umoci repack --image layout:t bundle
            rm bundle/rootfs/etc/gone
            umoci repack --image layout:t bundle
            umoci config --image layout:t --config.env GREETING=hello --config.env PATH=/bin --config.workingdir /app
            skopeo copy --quiet oci:layout:t oci-archive:\(dir)/image.oci.tar
            skopeo copy --quiet oci:layout:t docker-archive:\(dir)/image.docker.tar:bb:latest
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
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/images").filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "\(leftovers)")

            // The admin's import through the CLI (a docker archive) is public.
            let cli = try await CLITests().bhatti(["image", "import", "bbd", docker], daemon: d)
            #expect(cli.status == 0 && cli.stdout.contains("image/bbd imported (public"), "\(cli.stdout) \(cli.stderr)")
            let json = try await CLITests().bhatti(["--json", "image", "inspect", "bbd"], daemon: d)
            #expect(json.status == 0 && json.stdout.contains("\"source\" : \"import\""), "\(json.stdout) \(json.stderr)")

            // Booted: commands start in WorkingDir with Env, the whited-out file is gone; a request's own env wins.
            let r = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"b","image":"bbd","memory_mb":512}"#)
            #expect(r.status == 201, "\(r.text)")
            let seen = try await d.exec(
                "b", ["sh", "-c", "echo $GREETING; pwd; cat /etc/kept; test -e /etc/gone && echo present || echo gone"])
            #expect(seen.stdout == "hello\n/app\nkept\ngone\n", "\(seen)")
            let own = try await d.call(
                "POST", "/v1/sandboxes/b/exec", json: #"{"cmd":["sh","-c","echo $GREETING; pwd"],"env":{"GREETING":"mine"},"cwd":"/tmp"}"#)
            #expect(own.text.contains("mine") && own.text.contains("/tmp"), "\(own.text)")
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
