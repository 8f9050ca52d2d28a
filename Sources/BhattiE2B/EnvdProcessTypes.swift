/// The `process` package of envd's protos (packages/envd/spec/process/process.proto).
public enum EnvdProcess {}

/// `{}`: the many messages with no fields (UpdateResponse, KeepAlive, ListRequest, …).
public struct EmptyMessage: ProtoMessage {
    public init() {}
    public init(from decoder: any Decoder) throws { _ = try ProtoFields(decoder) }
    public var orderedJSON: OrderedJSON { .object([]) }
}

extension EnvdProcess {
    public struct PTY: ProtoMessage {
        public struct Size: ProtoMessage {
            public var cols: UInt32
            public var rows: UInt32
            public init() { self.init(cols: 0, rows: 0) }
            public init(cols: UInt32, rows: UInt32) {
                self.cols = cols
                self.rows = rows
            }
            public init(from decoder: any Decoder) throws {
                let f = try ProtoFields(decoder)
                self.init(cols: try f.int(UInt32.self, "cols") ?? 0, rows: try f.int(UInt32.self, "rows") ?? 0)
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                w.int32("cols", cols)
                w.int32("rows", rows)
                return w.json
            }
        }

        public var size: Size?
        public init() {}
        public init(size: Size?) { self.size = size }
        public init(from decoder: any Decoder) throws {
            self.init(size: try ProtoFields(decoder).message(Size.self, "size"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("size", size)
            return w.json
        }
    }

    public struct ProcessConfig: ProtoMessage {
        public var cmd: String
        public var args: [String]
        public var envs: [String: String]
        /// `optional`: nil means the user's default working directory.
        public var cwd: String?

        public init() { self.init(cmd: "") }
        public init(cmd: String, args: [String] = [], envs: [String: String] = [:], cwd: String? = nil) {
            self.cmd = cmd
            self.args = args
            self.envs = envs
            self.cwd = cwd
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                cmd: try f.string("cmd") ?? "", args: try f.repeated(String.self, "args"), envs: try f.stringMap("envs"),
                cwd: try f.string("cwd"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.string("cmd", cmd)
            w.repeated("args", args)
            w.stringMap("envs", envs)
            w.string("cwd", present: cwd)
            return w.json
        }
    }

    /// Which process a call is about: `oneof selector { uint32 pid; string tag }`.
    public struct ProcessSelector: ProtoMessage {
        public enum Selector: Equatable, Sendable {
            case pid(UInt32)
            case tag(String)
        }

        public var selector: Selector?
        public init() {}
        public init(_ selector: Selector?) { self.selector = selector }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            switch try f.oneof([("pid", nil), ("tag", nil)]) {
            case ("pid", _)?: selector = .pid(try f.int(UInt32.self, "pid") ?? 0)
            case ("tag", _)?: selector = .tag(try f.string("tag") ?? "")
            default: selector = nil
            }
        }
        public var orderedJSON: OrderedJSON {
            switch selector {
            case .pid(let pid): .object([.init("pid", .int(Int64(pid)))])
            case .tag(let tag): .object([.init("tag", .string(tag))])
            case nil: .object([])
            }
        }
    }

    /// `oneof input { bytes stdin; bytes pty }`.
    public struct ProcessInput: ProtoMessage {
        public enum Input: Equatable, Sendable {
            case stdin([UInt8])
            case pty([UInt8])
        }

        public var input: Input?
        public init() {}
        public init(_ input: Input?) { self.input = input }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            switch try f.oneof([("stdin", nil), ("pty", nil)]) {
            case ("stdin", _)?: input = .stdin(try f.bytes("stdin") ?? [])
            case ("pty", _)?: input = .pty(try f.bytes("pty") ?? [])
            default: input = nil
            }
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            switch input {
            case .stdin(let b): w.bytes("stdin", present: b)
            case .pty(let b): w.bytes("pty", present: b)
            case nil: break
            }
            return w.json
        }
    }

    public struct ProcessInfo: ProtoMessage {
        public var config: ProcessConfig?
        public var pid: UInt32
        public var tag: String?

        public init() { self.init(config: nil, pid: 0) }
        public init(config: ProcessConfig?, pid: UInt32, tag: String? = nil) {
            self.config = config
            self.pid = pid
            self.tag = tag
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                config: try f.message(ProcessConfig.self, "config"), pid: try f.int(UInt32.self, "pid") ?? 0, tag: try f.string("tag"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("config", config)
            w.int32("pid", pid)
            w.string("tag", present: tag)
            return w.json
        }
    }
}
