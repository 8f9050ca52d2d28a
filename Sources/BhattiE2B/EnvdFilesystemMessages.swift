extension EnvdFilesystem {
    /// A request naming one path: Stat, MakeDir, Remove.
    public struct PathRequest: ProtoMessage {
        public var path: String
        public init() { self.init(path: "") }
        public init(path: String) { self.path = path }
        public init(from decoder: any Decoder) throws {
            self.init(path: try ProtoFields(decoder).string("path") ?? "")
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("path", path)
            return w.json
        }
    }

    public typealias StatRequest = PathRequest
    /// The SDK reads already_exists as "make_dir returned False".
    public typealias MakeDirRequest = PathRequest
    public typealias RemoveRequest = PathRequest

    public struct MoveRequest: ProtoMessage {
        public var source: String
        public var destination: String
        public init() { self.init(source: "", destination: "") }
        public init(source: String, destination: String) {
            self.source = source
            self.destination = destination
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(source: try f.string("source") ?? "", destination: try f.string("destination") ?? "")
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("source", source)
            w.string("destination", destination)
            return w.json
        }
    }

    public struct ListDirRequest: ProtoMessage {
        public var path: String
        /// 0 means envd's default of 1 (the SDK sends `depth or 0`).
        public var depth: UInt32
        public init() { self.init(path: "", depth: 0) }
        public init(path: String, depth: UInt32) {
            self.path = path
            self.depth = depth
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(path: try f.string("path") ?? "", depth: try f.int(UInt32.self, "depth") ?? 0)
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("path", path)
            w.int32("depth", depth)
            return w.json
        }
    }

    /// `WatchDirRequest` and `CreateWatcherRequest`, which have the same fields.
    public struct WatchRequest: ProtoMessage {
        public var path: String
        public var recursive: Bool
        public var includeEntry: Bool
        public var allowNetworkMounts: Bool
        public init() { self.init(path: "") }
        public init(path: String, recursive: Bool = false, includeEntry: Bool = false, allowNetworkMounts: Bool = false) {
            self.path = path
            self.recursive = recursive
            self.includeEntry = includeEntry
            self.allowNetworkMounts = allowNetworkMounts
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                path: try f.string("path") ?? "", recursive: try f.bool("recursive") ?? false,
                includeEntry: try f.bool("includeEntry", "include_entry") ?? false,
                allowNetworkMounts: try f.bool("allowNetworkMounts", "allow_network_mounts") ?? false)
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("path", path)
            w.bool("recursive", recursive)
            w.bool("includeEntry", includeEntry)
            w.bool("allowNetworkMounts", allowNetworkMounts)
            return w.json
        }
    }

    public typealias WatchDirRequest = WatchRequest
    public typealias CreateWatcherRequest = WatchRequest

    /// `GetWatcherEventsRequest`, `RemoveWatcherRequest` and `CreateWatcherResponse`: just a watcher id.
    public struct WatcherID: ProtoMessage {
        public var watcherID: String
        public init() { self.init(watcherID: "") }
        public init(watcherID: String) { self.watcherID = watcherID }
        public init(from decoder: any Decoder) throws {
            self.init(watcherID: try ProtoFields(decoder).string("watcherId", "watcher_id") ?? "")
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("watcherId", watcherID)
            return w.json
        }
    }

    public typealias GetWatcherEventsRequest = WatcherID
    public typealias RemoveWatcherRequest = WatcherID
    public typealias CreateWatcherResponse = WatcherID

    /// `StatResponse`, `MakeDirResponse` and `MoveResponse`: `{"entry":{…}}`.
    public struct EntryResponse: ProtoMessage {
        public var entry: EntryInfo?
        public init() {}
        public init(entry: EntryInfo?) { self.entry = entry }
        public init(from decoder: any Decoder) throws {
            self.init(entry: try ProtoFields(decoder).message(EntryInfo.self, "entry"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("entry", entry)
            return w.json
        }
    }

    public typealias StatResponse = EntryResponse
    public typealias MakeDirResponse = EntryResponse
    public typealias MoveResponse = EntryResponse
    public typealias RemoveResponse = EmptyMessage
    public typealias RemoveWatcherResponse = EmptyMessage

    public struct ListDirResponse: ProtoMessage {
        public var entries: [EntryInfo]
        public init() { self.init(entries: []) }
        public init(entries: [EntryInfo]) { self.entries = entries }
        public init(from decoder: any Decoder) throws {
            self.init(entries: try ProtoFields(decoder).repeated(EntryInfo.self, "entries"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.repeated("entries", entries)
            return w.json
        }
    }

    public struct GetWatcherEventsResponse: ProtoMessage {
        public var events: [FilesystemEvent]
        public init() { self.init(events: []) }
        public init(events: [FilesystemEvent]) { self.events = events }
        public init(from decoder: any Decoder) throws {
            self.init(events: try ProtoFields(decoder).repeated(FilesystemEvent.self, "events"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.repeated("events", events)
            return w.json
        }
    }

    /// A WatchDir stream message: `oneof event { StartEvent start; FilesystemEvent filesystem; KeepAlive keepalive }`.
    public struct WatchDirResponse: ProtoMessage {
        public enum Event: Equatable, Sendable {
            case start
            case filesystem(FilesystemEvent)
            case keepalive
        }

        public var event: Event?
        public init() {}
        public init(_ event: Event?) { self.event = event }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            switch try f.oneof([("start", nil), ("filesystem", nil), ("keepalive", nil)]) {
            case ("start", let k)?:
                _ = try f.container.decode(EmptyMessage.self, forKey: k)
                event = .start
            case ("filesystem", let k)?: event = .filesystem(try f.container.decode(FilesystemEvent.self, forKey: k))
            case ("keepalive", let k)?:
                _ = try f.container.decode(EmptyMessage.self, forKey: k)
                event = .keepalive
            default: event = nil
            }
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            switch event {
            case .start: w.message("start", EmptyMessage())
            case .filesystem(let e): w.message("filesystem", e)
            case .keepalive: w.message("keepalive", EmptyMessage())
            case nil: break
            }
            return w.json
        }
    }
}
