import BhattiCore
import BhattiStore
import Foundation

/// Runs `body` with the path of a database file in a fresh directory, removed afterwards.
func withDatabaseFile<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = NSTemporaryDirectory() + "bhatti-store-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir + "/state.db")
}

/// Whole seconds, so records compare equal after the store's millisecond round trip.
let epoch = Date(timeIntervalSince1970: 1_700_000_000)

func sandbox(_ name: String, owner: String? = nil, at offset: TimeInterval = 0) -> SandboxRecord {
    SandboxRecord(
        id: .random(), name: SandboxName(rawValue: name)!, state: .creating, cpus: 2, memoryMB: 512,
        image: "default", labels: ["team": "a"], createdAt: epoch + offset, userID: owner)
}

func user(_ name: String, at offset: TimeInterval = 0) -> UserRecord {
    UserRecord(
        id: "u-\(name)", name: name, keySHA256: "sha256-of-\(name)",
        maxSandboxes: 5, maxCPUs: 4, maxMemoryMB: 4096, createdAt: epoch + offset)
}
