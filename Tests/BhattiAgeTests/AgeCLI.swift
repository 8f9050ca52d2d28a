import Foundation
import Testing

/// Runs the real `age` / `age-keygen` binaries (Debian package `age`). Missing
/// binaries fail the test rather than skip it: interop is the point.
struct AgeCLI {
    let directory: URL

    /// Runs `body` with a fresh scratch directory that is removed afterwards.
    static func withScratch<T>(_ body: (AgeCLI) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bhatti-age-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(AgeCLI(directory: directory))
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
    }

    func read(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a tool and returns its stdout; a non-zero exit throws with its stderr.
    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> [UInt8] {
        let executable = try Self.locate(tool)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Files, not pipes: nothing can block on a full pipe buffer.
        try write(".stdout", [])
        try write(".stderr", [])
        let stdout = try FileHandle(forWritingTo: URL(fileURLWithPath: path(".stdout")))
        let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: path(".stderr")))
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errors = String(decoding: try read(".stderr"), as: UTF8.self)
            throw Failure(description: "\(tool) \(arguments) exited \(process.terminationStatus): \(errors)")
        }
        return try read(".stdout")
    }

    private static func locate(_ tool: String) throws -> String {
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = searchPath.split(separator: ":").map { "\($0)/\(tool)" } + ["/usr/bin/\(tool)"]
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "\(tool) not found: install the Debian package `age` (CI does)")
    }
}
