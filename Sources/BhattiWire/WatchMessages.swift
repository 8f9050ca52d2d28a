import BhattiJSON
import FoundationEssentials

/// Opens a watch on a directory in the guest (relative paths from /workspace).
public struct WatchRequest: Codable, Equatable, Sendable {
    public var path: String
    /// Every directory below it too, those made later included.
    public var recursive: Bool
    public init(path: String, recursive: Bool) {
        self.path = path
        self.recursive = recursive
    }
}

/// One change in a watched directory, as E2B's envd reports it (its `EventType` and `name`).
public struct WatchEvent: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Made, or moved in (the new name of a rename).
        case create
        /// Its content changed.
        case write
        case remove
        /// Moved away (the old name of a rename).
        case rename
        /// Its permissions, owner or times changed.
        case chmod
    }
    public var kind: Kind
    /// Relative to the watched directory: `a.txt`, `sub/a.txt`.
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case kind = "type"
        case name
    }

    /// The JSON object, written by `FastJSON` (the same bytes as its Codable form): a busy directory
    /// sends many.
    public var fastJSON: [UInt8] {
        var w = FastJSON.ObjectWriter()
        w.add("type", kind.rawValue)
        w.add("name", name)
        return w.finished()
    }

    /// `events` as `data` payloads, each a JSON array of at most `maxBytes` (an event larger on its own
    /// goes alone), in order.
    public static func payloads(_ events: [WatchEvent], maxBytes: Int = 64 * 1024) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        var current: [UInt8] = [UInt8(ascii: "[")]
        for event in events {
            let object = event.fastJSON
            if current.count > 1 && current.count + object.count + 2 > maxBytes {
                payloads.append(current + [UInt8(ascii: "]")])
                current = [UInt8(ascii: "[")]
            }
            if current.count > 1 { current.append(UInt8(ascii: ",")) }
            current += object
        }
        if current.count > 1 { payloads.append(current + [UInt8(ascii: "]")]) }
        return payloads
    }
}
