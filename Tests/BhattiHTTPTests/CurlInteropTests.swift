import Foundation
import Testing

@testable import BhattiHTTP

/// Runs curl with `arguments` and returns its standard output (failing the test on a non-zero exit);
/// its time limit only turns a hang into a failure.
private func curl(_ arguments: [String]) async throws -> String {
    try await offPool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["--silent", "--show-error", "--max-time", String(hangMilliseconds / 1000)] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "curl \(arguments) exited \(process.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")))
struct CurlInteropTests {
    @Test func curlOverUnixSocket() async throws {
        let (server, endpoint) = try unixServer()
        defer { server.shutdown() }
        guard case .unix(let path) = endpoint else { return }
        let output = try await curl(["--unix-socket", path, "--data-binary", "payload", "http://localhost/v1/echo?x=1"])
        #expect(output == "POST /v1/echo x=1 payload")
    }

    @Test func curlOverTCPReusesTheConnection() async throws {
        let (server, endpoint) = try tcpServer()
        defer { server.shutdown() }
        guard case .tcp(let host, let port) = endpoint else { return }
        let url = "http://\(host):\(port)/k"
        let output = try await curl([
            "--output", "/dev/null", "--output", "/dev/null", "--write-out", "%{http_code} %{num_connects}\n", url, url,
        ])
        #expect(output == "200 1\n200 0\n")
    }

    @Test func curlReadsStreamsAndSendsChunkedBodies() async throws {
        let handler = ClosureHandler { request in
            .stream(
                ResponseStream { stream in
                    stream.write("got \(request.body.count) bytes\n")
                    stream.write("{\"done\":true}\n")
                })
        }
        let (server, endpoint) = try unixServer(handler)
        defer { server.shutdown() }
        guard case .unix(let path) = endpoint else { return }
        let output = try await curl([
            "--no-buffer", "--unix-socket", path, "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
            "--data-binary", String(repeating: "z", count: 3000), "http://localhost/stream",
        ])
        #expect(output == "got 3000 bytes\n{\"done\":true}\n")
    }

    @Test func curlSeesTheTooLargeAnswer() async throws {
        let (server, endpoint) = try tcpServer(limits: HTTPLimits(maxBodyBytes: 100))
        defer { server.shutdown() }
        guard case .tcp(let host, let port) = endpoint else { return }
        let output = try await curl([
            "--write-out", " %{http_code}", "--data-binary", String(repeating: "y", count: 5000), "http://\(host):\(port)/",
        ])
        #expect(output == #"{"error":{"code":"too_large","message":"request body is larger than 100 bytes"}} 413"#)
    }
}
