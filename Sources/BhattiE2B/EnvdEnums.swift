extension EnvdProcess {
    /// `process.Signal`. The SDK sends SIGKILL for `kill()`; other numbers decode, for the server to refuse.
    public struct Signal: ProtoEnum {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unspecified = Signal(rawValue: 0)
        public static let sigterm = Signal(rawValue: 15)
        public static let sigkill = Signal(rawValue: 9)

        public static let known: [(number: Int32, name: String)] = [
            (0, "SIGNAL_UNSPECIFIED"), (15, "SIGNAL_SIGTERM"), (9, "SIGNAL_SIGKILL"),
        ]
    }
}

extension EnvdFilesystem {
    /// `filesystem.FileType`. Newer envd reports a symlink's target type here and marks the link with
    /// `EntryInfo.isSymlink`; older envd reported `symlink` here. The SDK reads both, and drops ListDir
    /// entries whose type is unspecified.
    public struct FileType: ProtoEnum {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unspecified = FileType(rawValue: 0)
        public static let file = FileType(rawValue: 1)
        public static let directory = FileType(rawValue: 2)
        public static let symlink = FileType(rawValue: 3)

        public static let known: [(number: Int32, name: String)] = [
            (0, "FILE_TYPE_UNSPECIFIED"), (1, "FILE_TYPE_FILE"), (2, "FILE_TYPE_DIRECTORY"), (3, "FILE_TYPE_SYMLINK"),
        ]
    }

    /// `filesystem.EventType`.
    public struct EventType: ProtoEnum {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unspecified = EventType(rawValue: 0)
        public static let create = EventType(rawValue: 1)
        public static let write = EventType(rawValue: 2)
        public static let remove = EventType(rawValue: 3)
        public static let rename = EventType(rawValue: 4)
        public static let chmod = EventType(rawValue: 5)

        public static let known: [(number: Int32, name: String)] = [
            (0, "EVENT_TYPE_UNSPECIFIED"), (1, "EVENT_TYPE_CREATE"), (2, "EVENT_TYPE_WRITE"), (3, "EVENT_TYPE_REMOVE"),
            (4, "EVENT_TYPE_RENAME"), (5, "EVENT_TYPE_CHMOD"),
        ]
    }
}
