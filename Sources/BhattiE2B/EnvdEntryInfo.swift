/// The `filesystem` package of envd's protos (packages/envd/spec/filesystem/filesystem.proto).
public enum EnvdFilesystem {}

extension EnvdFilesystem {
    /// What Stat, MakeDir, Move and ListDir report about a path.
    ///
    /// The SDK reads every field into its own EntryInfo (missing ones as 0 or ""), `modifiedTime`
    /// missing as the epoch, and `symlinkTarget` as None unless present.
    public struct EntryInfo: ProtoMessage {
        public var name: String
        public var type: FileType
        public var path: String
        /// `int64`: a JSON string on the wire.
        public var size: Int64
        public var mode: UInt32
        /// `ls -l` style, e.g. "-rw-r--r--".
        public var permissions: String
        public var owner: String
        public var group: String
        public var modifiedTime: Timestamp?
        public var symlinkTarget: String?
        /// User metadata (the `user.e2b.` xattrs).
        public var metadata: [String: String]
        /// Field 12, in the SDK's copy of the proto (not yet in the infra snapshot): the entry is a
        /// symlink, whose target's type `type` then gives.
        public var isSymlink: Bool

        public init() { self.init(name: "", type: .unspecified, path: "") }
        public init(
            name: String, type: FileType, path: String, size: Int64 = 0, mode: UInt32 = 0, permissions: String = "", owner: String = "",
            group: String = "", modifiedTime: Timestamp? = nil, symlinkTarget: String? = nil, metadata: [String: String] = [:],
            isSymlink: Bool = false
        ) {
            self.name = name
            self.type = type
            self.path = path
            self.size = size
            self.mode = mode
            self.permissions = permissions
            self.owner = owner
            self.group = group
            self.modifiedTime = modifiedTime
            self.symlinkTarget = symlinkTarget
            self.metadata = metadata
            self.isSymlink = isSymlink
        }

        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                name: try f.string("name") ?? "",
                type: try f.enumeration(FileType.self, "type") ?? .unspecified,
                path: try f.string("path") ?? "",
                size: try f.int(Int64.self, "size") ?? 0,
                mode: try f.int(UInt32.self, "mode") ?? 0,
                permissions: try f.string("permissions") ?? "",
                owner: try f.string("owner") ?? "",
                group: try f.string("group") ?? "",
                modifiedTime: try f.timestamp("modifiedTime", "modified_time"),
                symlinkTarget: try f.string("symlinkTarget", "symlink_target"),
                metadata: try f.stringMap("metadata"),
                isSymlink: try f.bool("isSymlink", "is_symlink") ?? false)
        }

        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("name", name)
            w.enumeration("type", type)
            w.string("path", path)
            w.int64("size", size)
            w.int32("mode", mode)
            w.string("permissions", permissions)
            w.string("owner", owner)
            w.string("group", group)
            w.timestamp("modifiedTime", modifiedTime)
            w.string("symlinkTarget", present: symlinkTarget)
            w.stringMap("metadata", metadata)
            w.bool("isSymlink", isSymlink)
            return w.json
        }
    }

    /// `FilesystemEvent`: one change under a watched directory.
    public struct FilesystemEvent: ProtoMessage {
        public var name: String
        public var type: EventType
        /// Only when the watch asked for it (`includeEntry`, SDK: envd 0.6.3 and later).
        public var entry: EntryInfo?

        public init() { self.init(name: "", type: .unspecified) }
        public init(name: String, type: EventType, entry: EntryInfo? = nil) {
            self.name = name
            self.type = type
            self.entry = entry
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                name: try f.string("name") ?? "", type: try f.enumeration(EventType.self, "type") ?? .unspecified,
                entry: try f.message(EntryInfo.self, "entry"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("name", name)
            w.enumeration("type", type)
            w.message("entry", entry)
            return w.json
        }
    }
}
