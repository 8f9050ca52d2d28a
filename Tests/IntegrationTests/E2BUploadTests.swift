import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// envd's `POST /files` past the 1 MiB every other body is held to, on a real VM: multipart and
/// octet-stream bodies, chunked too, land byte for byte, and the host spool they wait in is empty
/// after every upload, failed and abandoned ones included.
@Suite("E2B envd uploads", .serialized, .timeLimit(.minutes(10)))
struct E2BUploadTests {
    /// `count` bytes no two runs of which repeat at a short period (xorshift), so a dropped, doubled
    /// or misplaced block changes the content.
    static func noise(_ count: Int, seed: UInt32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var x = seed
        for i in bytes.indices {
            x ^= x << 13
            x ^= x >> 17
            x ^= x << 5
            bytes[i] = UInt8(truncatingIfNeeded: x)
        }
        return bytes
    }

    /// A multipart body as httpx writes the SDK's: a part per file, named `file`.
    static func multipart(_ files: [(filename: String, data: [UInt8])], boundary: String, close: Bool = true) -> [UInt8] {
        var body: [UInt8] = []
        for file in files {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.filename)\"\r\n".utf8)
            body += Array("Content-Type: application/octet-stream\r\n\r\n".utf8) + file.data + Array("\r\n".utf8)
        }
        return close ? body + Array("--\(boundary)--\r\n".utf8) : body
    }

    /// A sandbox made through the E2B API: its id and envd token.
    static func sandbox(_ d: TestDaemon) async throws -> (id: String, token: String) {
        let made = try await d.raw(
            "POST", "/e2b/v2/sandboxes", headers: ["X-API-Key": d.daemon.adminKey, "Content-Type": "application/json"],
            body: Array(#"{"templateID":"base","timeout":600}"#.utf8))
        #expect(made.status == 201, "\(made.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])
        return (try #require(object["sandboxID"] as? String), try #require(object["envdAccessToken"] as? String))
    }

    static func spoolFiles(_ d: TestDaemon) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: d.dataDirectory + "/tmp")
    }

    @Test("a 3 MiB multipart file, two parts one over 1 MiB, 5 MiB of octet-stream and a chunked body land byte for byte")
    func largeUploads() async throws {
        try await withDaemon { d in
            let (id, token) = try await Self.sandbox(d)
            let auth: HTTPHeaders = ["E2b-Sandbox-Id": id, "X-Access-Token": token]
            func post(_ query: String, type: String, _ body: [UInt8]) async throws -> HTTPClientResponse {
                var headers = auth
                headers.set("Content-Type", type)
                return try await d.raw("POST", "/e2b/envd/files?" + query, headers: headers, body: body)
            }
            func readBack(_ path: String, _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let back = try await d.raw("GET", "/e2b/envd/files?path=" + path, headers: auth)
                let same = back.status == 200 && back.body == expected
                #expect(same, "\(path): \(back.status), \(back.body.count) of \(expected.count) bytes", sourceLocation: sourceLocation)
            }
            let boundary = "d41d8cd98f00b204e9800998ecf8427e"
            let form = "multipart/form-data; boundary=\(boundary)"

            let single = Self.noise(3 << 20, seed: 1)
            let one = try await post("path=/tmp/up/single.bin", type: form, Self.multipart([("single.bin", single)], boundary: boundary))
            #expect(one.status == 200 && one.text.contains(#""path":"\/tmp\/up\/single.bin""#), "\(one.text)")
            try await readBack("/tmp/up/single.bin", single)
            #expect(try Self.spoolFiles(d).isEmpty)

            let big = Self.noise(1_500_000, seed: 2)
            let small = Array("the second part\r\n--not-the-boundary\r\n".utf8)
            let two = try await post(
                "", type: form, Self.multipart([("/tmp/up/big.bin", big), ("/tmp/up/small.txt", small)], boundary: boundary))
            #expect(two.status == 200 && two.text.contains("big.bin") && two.text.contains("small.txt"), "\(two.text)")
            try await readBack("/tmp/up/big.bin", big)
            try await readBack("/tmp/up/small.txt", small)
            #expect(try Self.spoolFiles(d).isEmpty)

            let octets = Self.noise(5 << 20, seed: 3)
            let raw = try await post("path=/tmp/up/octets.bin", type: "application/octet-stream", octets)
            #expect(raw.status == 200 && raw.text.contains("octets.bin"), "\(raw.text)")
            try await readBack("/tmp/up/octets.bin", octets)

            // Chunked (an SDK iterator's upload): spooled, then written.
            let chunkedData = Self.noise(2 << 20, seed: 4)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bhatti-e2b-up-\(UUID().uuidString)")
            try Data(chunkedData).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let curled = try await curl(
                [
                    "--unix-socket", d.daemon.socketPath, "-X", "POST", "-T", file.path, "-H", "Transfer-Encoding: chunked",
                    "-H", "Content-Type: application/octet-stream", "-H", "E2b-Sandbox-Id: \(id)", "-H", "X-Access-Token: \(token)",
                    "-w", "\n%{http_code}", "http://localhost/e2b/envd/files?path=/tmp/up/chunked.bin",
                ])
            #expect(curled.0 == 0 && curled.1.hasSuffix("\n200"), "\(curled.1)")
            try await readBack("/tmp/up/chunked.bin", chunkedData)
            #expect(try Self.spoolFiles(d).isEmpty)

            // A large body that breaks off is refused whole, as a small one is: nothing written, nothing left.
            let broken = try await post(
                "path=/tmp/up/broken.bin", type: form, Self.multipart([("broken.bin", big)], boundary: boundary, close: false))
            #expect(broken.status == 400 && broken.text.contains("a part does not end with the boundary"), "\(broken.text)")
            let missing = try await d.raw("GET", "/e2b/envd/files?path=/tmp/up/broken.bin", headers: auth)
            #expect(missing.status == 404, "\(missing.text)")
            #expect(try Self.spoolFiles(d).isEmpty)

            // Over the 100 MiB upload limit: refused from the header, before the body.
            let tooBig = try await Blocking.run { () throws -> String in
                let fd = try Socket.connect(unixPath: d.daemon.socketPath)
                defer { fd.close() }
                try fd.writeAll(
                    Array(
                        ("POST /e2b/envd/files?path=/tmp/up/huge HTTP/1.1\r\nHost: x\r\nE2b-Sandbox-Id: \(id)\r\n"
                            + "X-Access-Token: \(token)\r\nContent-Length: \((100 << 20) + 1)\r\n\r\n").utf8))
                return String(decoding: try fd.read(upTo: 4096), as: UTF8.self)
            }
            #expect(tooBig.hasPrefix("HTTP/1.1 413"), "\(tooBig.prefix(80))")
        }
    }

    @Test("a client that leaves mid-upload, multipart or chunked, leaves no spool file behind")
    func abandoned() async throws {
        try await withDaemon { d in
            let (id, token) = try await Self.sandbox(d)
            let head = "Host: x\r\nE2b-Sandbox-Id: \(id)\r\nX-Access-Token: \(token)\r\n"
            let boundary = "abandoned"
            let started = Self.multipart([("/tmp/up/gone.bin", Self.noise(1 << 20, seed: 5))], boundary: boundary, close: false)
            let uploads: [(String, [UInt8])] = [
                (
                    "multipart",
                    Array(
                        ("POST /e2b/envd/files HTTP/1.1\r\n\(head)Content-Type: multipart/form-data; boundary=\(boundary)\r\n"
                            + "Content-Length: \(3 << 20)\r\n\r\n").utf8) + started
                ),
                (
                    "chunked",
                    Array(
                        ("POST /e2b/envd/files?path=/tmp/up/gone.bin HTTP/1.1\r\n\(head)Content-Type: application/octet-stream\r\n"
                            + "Transfer-Encoding: chunked\r\n\r\n100000\r\n").utf8) + Self.noise(1 << 20, seed: 6) + Array("\r\n".utf8)
                ),
            ]
            for (kind, bytes) in uploads {
                let socket = try Socket.connect(unixPath: d.daemon.socketPath)
                try await Blocking.run { try socket.writeAll(bytes) }
                // The part's bytes reached the spool: the upload is under way when the client goes.
                let spooling = try await eventually {
                    try Self.spoolFiles(d).contains { name in
                        let size = try? FileManager.default.attributesOfItem(atPath: d.dataDirectory + "/tmp/" + name)[.size] as? Int
                        return (size ?? 0) > 0
                    }
                }
                #expect(spooling, "\(kind): nothing was spooled")
                socket.close()
                let emptied = try await eventually { try Self.spoolFiles(d).isEmpty }
                #expect(emptied, "\(kind): \((try? Self.spoolFiles(d)) ?? []) left in the spool")
            }
            // The sandbox still takes uploads.
            let after = try await d.raw(
                "POST", "/e2b/envd/files?path=/tmp/up/after.txt",
                headers: ["E2b-Sandbox-Id": id, "X-Access-Token": token, "Content-Type": "application/octet-stream"],
                body: Array("after".utf8))
            #expect(after.status == 200, "\(after.text)")
        }
    }
}
