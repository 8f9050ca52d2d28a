import BhattiEngine

/// A guest with set answers: every call throws `failure` when there is one; otherwise commands print
/// `output` and exit with `exitCode`, and files are read from `files`.
struct FakeGuest: SandboxGuest {
    var failure: GuestError?
    var output: [ExecEvent] = []
    var exitCode: Int32 = 0
    var files: [String: [UInt8]] = [:]

    private func answer() throws(GuestError) {
        if let failure { throw failure }
    }

    private func file(_ path: String) throws(GuestError) -> [UInt8] {
        try answer()
        guard let bytes = files[path] else { throw GuestError(.notFound, "\(path): no such file or directory") }
        return bytes
    }

    private func info(_ path: String, _ bytes: [UInt8]) -> GuestFileInfo {
        GuestFileInfo(name: String(path.split(separator: "/").last ?? ""), size: bytes.count, mode: "0644", isDir: false, mtime: 0)
    }

    func exec(
        _ command: GuestCommand, stdin: [UInt8]?, timeout: Duration?, onEvent: @Sendable (ExecEvent) async -> Void
    ) async throws -> Int32 {
        try answer()
        for event in output { await onEvent(event) }
        await onEvent(.exit(code: exitCode))
        return exitCode
    }

    func execDetached(_ command: GuestCommand) async throws -> DetachedCommand {
        try answer()
        return DetachedCommand(pid: 42, outputFile: "/tmp/fake.log")
    }

    func activity(usage: Bool) async throws -> GuestActivity {
        try answer()
        return GuestActivity(
            lastActivityMs: 0, runningSessions: 0, attachedSessions: 0, runningExecs: 0, cpuBusyTicks: nil, cpuTotalTicks: nil)
    }

    func configure(_ settings: GuestSettings) async throws { try answer() }
    func syncClock() {}

    func readFile(
        _ read: GuestFileRead, onInfo: @Sendable (GuestFileReadInfo) async throws -> Void,
        onChunk: @Sendable ([UInt8]) async throws -> Void
    ) async throws -> GuestFileReadInfo {
        let bytes = try file(read.path)
        let info = GuestFileReadInfo(size: bytes.count, mode: "0644")
        try await onInfo(info)
        try await onChunk(bytes)
        return info
    }

    func writeFile(
        path: String, mode: String, size: Int, from next: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> GuestFileInfo {
        var bytes: [UInt8] = []
        while let chunk = try await next() { bytes += chunk }
        return try await writeFile(path: path, mode: mode, bytes: bytes)
    }

    func writeFile(path: String, mode: String, bytes: [UInt8]) async throws -> GuestFileInfo {
        try answer()
        return info(path, bytes)
    }

    func stat(_ path: String) async throws -> GuestFileInfo { info(path, try file(path)) }

    func list(_ path: String) async throws -> GuestFileListing {
        try answer()
        let entries = files.filter { $0.key.hasPrefix(path) }.map { info($0.key, $0.value) }.sorted { $0.name < $1.name }
        return GuestFileListing(entries: entries, truncated: false, total: entries.count)
    }

    func makeDirectory(_ path: String) async throws -> Bool {
        try answer()
        return true
    }

    func move(from source: String, to destination: String) async throws { _ = try file(source) }

    func remove(_ path: String) async throws { _ = try file(path) }

    func openSession(_ request: GuestSessionRequest) async throws -> any GuestSession {
        try answer()
        throw GuestError(.internal, "the fake guest has no sessions")
    }

    func listSessions() async throws -> [GuestSessionInfo] {
        try answer()
        return []
    }

    func forward(port: Int) async throws -> any GuestPortForward {
        try answer()
        throw GuestError(.notFound, "connection refused on port \(port)")
    }

    func watch(path: String, recursive: Bool) async throws -> any GuestWatch {
        try answer()
        throw GuestError(.notFound, "\(path): no such file or directory")
    }
}
