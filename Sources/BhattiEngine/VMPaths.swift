import BhattiSystem

/// Where one sandbox's files live: everything under one directory, removed on destroy.
public struct VMPaths: Sendable, Equatable {
    public let directory: String
    public var disk: String { directory + "/disk.qcow2" }
    public var memory: String { directory + "/memory" }
    public var qmpSocket: String { directory + "/qmp.sock" }
    public var agentSocket: String { directory + "/agent.sock" }
    public var log: String { directory + "/qemu.log" }
    public var pidFile: String { directory + "/qemu.pid" }

    public init(dataDirectory: String, id: String) {
        directory = dataDirectory + "/sandboxes/" + id
    }

    /// Unix socket paths are limited to 107 bytes: refuse a data directory that would overflow them.
    public static func validate(dataDirectory: String) throws {
        let sample = VMPaths(dataDirectory: dataDirectory, id: String(repeating: "0", count: 16))
        if sample.agentSocket.utf8.count > Socket.maxUnixPathLength {
            throw EngineError.unsupported(
                "data directory \(dataDirectory) is too long: sandbox socket paths would exceed the kernel's \(Socket.maxUnixPathLength)-byte limit; use a shorter --data-dir")
        }
    }
}
