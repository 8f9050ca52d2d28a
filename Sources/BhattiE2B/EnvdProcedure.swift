/// The envd RPCs (packages/envd/spec/{process,filesystem}/*.proto), by their Connect path.
public enum EnvdProcedure: String, CaseIterable, Sendable {
    case processList = "/process.Process/List"
    case processConnect = "/process.Process/Connect"
    case processStart = "/process.Process/Start"
    case processUpdate = "/process.Process/Update"
    case processStreamInput = "/process.Process/StreamInput"
    case processSendInput = "/process.Process/SendInput"
    case processSendSignal = "/process.Process/SendSignal"
    case processCloseStdin = "/process.Process/CloseStdin"
    case filesystemStat = "/filesystem.Filesystem/Stat"
    case filesystemMakeDir = "/filesystem.Filesystem/MakeDir"
    case filesystemMove = "/filesystem.Filesystem/Move"
    case filesystemListDir = "/filesystem.Filesystem/ListDir"
    case filesystemRemove = "/filesystem.Filesystem/Remove"
    case filesystemWatchDir = "/filesystem.Filesystem/WatchDir"
    case filesystemCreateWatcher = "/filesystem.Filesystem/CreateWatcher"
    case filesystemGetWatcherEvents = "/filesystem.Filesystem/GetWatcherEvents"
    case filesystemRemoveWatcher = "/filesystem.Filesystem/RemoveWatcher"

    public var path: String { rawValue }

    /// The request kind the SDK must use: the server-streaming RPCs are enveloped; everything else is
    /// unary, except StreamInput, a client stream (which the Python SDK never calls).
    public var kind: ConnectRequestKind {
        switch self {
        case .processConnect, .processStart, .filesystemWatchDir, .processStreamInput: .streaming
        default: .unary
        }
    }

    /// Answered with a stream of events. The Python SDK's `watch_dir` polls CreateWatcher,
    /// GetWatcherEvents and RemoveWatcher instead of calling WatchDir.
    public var isServerStreaming: Bool {
        switch self {
        case .processConnect, .processStart, .filesystemWatchDir: true
        default: false
        }
    }
}
