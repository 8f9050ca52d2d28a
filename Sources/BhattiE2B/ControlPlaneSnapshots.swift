// Snapshot and fork bodies of the E2B control plane, as e2b SDK 2.63.0 sends and parses them.

/// `POST /sandboxes/{id}/snapshots` (the SDK's `create_snapshot`): both optional; the SDK sends `{}`
/// for neither. `memory` false asks for a filesystem-only snapshot.
public struct SandboxSnapshotRequest: Codable, Equatable, Sendable {
    public var name: String?
    public var memory: Bool?

    public init(name: String? = nil, memory: Bool? = nil) {
        self.name = name
        self.memory = memory
    }
}

/// Answer of a snapshot create (201 only: the SDK parses no other status) and an element of
/// `GET /snapshots`. Required: snapshotID and names (`[]` for an unnamed snapshot). The SDK creates
/// from it with `templateID: snapshotID` and deletes it with `DELETE /templates/{snapshotID}`.
public struct SnapshotInfo: Codable, Equatable, Sendable {
    public var snapshotID: String
    public var names: [String]

    public init(snapshotID: String, names: [String]) {
        self.snapshotID = snapshotID
        self.names = names
    }
}

/// `POST /sandboxes/{id}/fork` (the SDK's `fork`; it checks 1 ≤ count ≤ 20 itself): both optional.
public struct SandboxForkRequest: Codable, Equatable, Sendable {
    /// Seconds each fork lives; absent means the server's default.
    public var timeout: Int?
    public var count: Int?

    public init(timeout: Int? = nil, count: Int? = nil) {
        self.timeout = timeout
        self.count = count
    }
}

/// One element of a fork's answer (201, an array): exactly one of the two is set. The SDK turns an
/// error into an exception object in the list it returns, and a sandbox into a `Sandbox` at once
/// (no connect, no health check).
public struct SandboxForkResult: Codable, Equatable, Sendable {
    public var sandbox: Sandbox?
    public var error: ControlPlaneError?

    public init(sandbox: Sandbox) {
        self.sandbox = sandbox
        self.error = nil
    }

    public init(error: ControlPlaneError) {
        self.sandbox = nil
        self.error = error
    }
}
