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
    /// How the VM was booted and its agent token (0600): adoption and restore need both.
    public var record: String { directory + "/vm.json" }
    /// Device state written by a cold snapshot; exists only while the sandbox is cold.
    public var deviceState: String { directory + "/state.bin" }
    /// Sizes and checksum of the cold snapshot, checked before a restore trusts it.
    public var snapshotManifest: String { directory + "/snapshot.json" }
    /// The RAM file's extents the last restore read from disk, read ahead by the next (`RestorePrefetch`).
    public var prefetchList: String { directory + "/prefetch" }

    public init(dataDirectory: String, id: String) {
        directory = dataDirectory + "/sandboxes/" + id
    }

    /// The same layout in any directory (named snapshots, templates).
    public init(directory: String) {
        self.directory = directory
    }

    /// Unix socket paths are limited to 107 bytes: refuse a data directory that would overflow them.
    public static func validate(dataDirectory: String) throws {
        let sample = VMPaths(dataDirectory: dataDirectory, id: String(repeating: "0", count: 16))
        if sample.agentSocket.utf8.count > Socket.maxUnixPathLength {
            throw EngineError.unsupported(
                "data directory \(dataDirectory) is too long: sandbox socket paths would exceed the kernel's \(Socket.maxUnixPathLength)-byte limit; use a shorter --data-dir"
            )
        }
    }
}
