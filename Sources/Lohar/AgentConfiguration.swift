/// What the agent needs to know about where it runs. PID 1 in a VM uses `.guest`; tests run the same
/// handlers on the host with `.hostTest`.
public struct AgentConfiguration: Sendable {
    /// The identity commands run as; nil keeps the agent's own (tests that are not root).
    public var user: (uid: Int32, gid: Int32)?
    public var defaultWorkingDirectory: String
    /// The base environment; the sandbox's and the request's env override it.
    public var defaultEnvironment: [String: String]
    /// Token the host must present in hello; empty accepts any (until per-sandbox tokens exist).
    public var token: String
    /// Whether children are reaped by a waitpid(-1) loop (PID 1) or one waiter per child.
    public var reapsAllChildren: Bool
    /// Whether to sync(2) before reporting an exit, so a snapshot taken right after sees the writes.
    public var syncBeforeExit: Bool
    /// How long an exited session nobody was attached to is kept for its scrollback and exit code.
    public var keepExitedSessionSeconds = 30

    public init(
        user: (uid: Int32, gid: Int32)?, defaultWorkingDirectory: String, defaultEnvironment: [String: String],
        token: String = "", reapsAllChildren: Bool, syncBeforeExit: Bool
    ) {
        self.user = user
        self.defaultWorkingDirectory = defaultWorkingDirectory
        self.defaultEnvironment = defaultEnvironment
        self.token = token
        self.reapsAllChildren = reapsAllChildren
        self.syncBeforeExit = syncBeforeExit
    }

    /// Inside the VM: commands run as `lohar` (1000:1000) in /workspace.
    public static let guest = AgentConfiguration(
        user: (1000, 1000), defaultWorkingDirectory: "/workspace",
        defaultEnvironment: [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/home/lohar", "USER": "lohar", "LOGNAME": "lohar", "SHELL": "/bin/bash",
            "LANG": "C.UTF-8", "TERM": "xterm-256color",
        ],
        reapsAllChildren: true, syncBeforeExit: true)

    /// On the host, for tests: the current user, /tmp, the host's PATH.
    public static func hostTest(path: String) -> AgentConfiguration {
        AgentConfiguration(
            user: nil, defaultWorkingDirectory: "/tmp", defaultEnvironment: ["PATH": path, "HOME": "/tmp", "LANG": "C.UTF-8"],
            reapsAllChildren: false, syncBeforeExit: false)
    }
}
