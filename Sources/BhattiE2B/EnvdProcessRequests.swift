extension EnvdProcess {
    public typealias ListRequest = EmptyMessage

    /// `Start` (server streaming). The SDK runs `/bin/bash -l -c CMD` for commands and
    /// `/bin/bash -i -l` with a PTY for terminals.
    public struct StartRequest: ProtoMessage {
        public var process: ProcessConfig?
        public var pty: PTY?
        public var tag: String?
        /// `optional bool`: absent means true, for old clients. The SDK sends `false` for commands
        /// unless asked for stdin, and leaves it out for PTYs.
        public var stdin: Bool?

        public init() {}
        public init(process: ProcessConfig?, pty: PTY? = nil, tag: String? = nil, stdin: Bool? = nil) {
            self.process = process
            self.pty = pty
            self.tag = tag
            self.stdin = stdin
        }

        /// Whether the process gets a writable stdin.
        public var stdinEnabled: Bool { stdin ?? true }

        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                process: try f.message(ProcessConfig.self, "process"), pty: try f.message(PTY.self, "pty"), tag: try f.string("tag"),
                stdin: try f.bool("stdin"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("process", process)
            w.message("pty", pty)
            w.string("tag", present: tag)
            w.bool("stdin", present: stdin)
            return w.json
        }
    }

    /// `Update`: resizes a PTY.
    public struct UpdateRequest: ProtoMessage {
        public var process: ProcessSelector?
        public var pty: PTY?

        public init() {}
        public init(process: ProcessSelector?, pty: PTY?) {
            self.process = process
            self.pty = pty
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(process: try f.message(ProcessSelector.self, "process"), pty: try f.message(PTY.self, "pty"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("process", process)
            w.message("pty", pty)
            return w.json
        }
    }

    public struct SendInputRequest: ProtoMessage {
        public var process: ProcessSelector?
        public var input: ProcessInput?

        public init() {}
        public init(process: ProcessSelector?, input: ProcessInput?) {
            self.process = process
            self.input = input
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(process: try f.message(ProcessSelector.self, "process"), input: try f.message(ProcessInput.self, "input"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("process", process)
            w.message("input", input)
            return w.json
        }
    }

    /// `StreamInput` (client streaming): `oneof event { StartEvent start; DataEvent data; KeepAlive keepalive }`.
    public struct StreamInputRequest: ProtoMessage {
        public struct StartEvent: ProtoMessage {
            public var process: ProcessSelector?
            public init() {}
            public init(process: ProcessSelector?) { self.process = process }
            public init(from decoder: any Decoder) throws {
                self.init(process: try ProtoFields(decoder).message(ProcessSelector.self, "process"))
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                w.message("process", process)
                return w.json
            }
        }

        public struct DataEvent: ProtoMessage {
            public var input: ProcessInput?
            public init() {}
            public init(input: ProcessInput?) { self.input = input }
            public init(from decoder: any Decoder) throws {
                self.init(input: try ProtoFields(decoder).message(ProcessInput.self, "input"))
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                w.message("input", input)
                return w.json
            }
        }

        public enum Event: Equatable, Sendable {
            case start(StartEvent)
            case data(DataEvent)
            case keepalive
        }

        public var event: Event?
        public init() {}
        public init(_ event: Event?) { self.event = event }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            switch try f.oneof([("start", nil), ("data", nil), ("keepalive", nil)]) {
            case ("start", let k)?: event = .start(try f.container.decode(StartEvent.self, forKey: k))
            case ("data", let k)?: event = .data(try f.container.decode(DataEvent.self, forKey: k))
            case ("keepalive", let k)?:
                _ = try f.container.decode(EmptyMessage.self, forKey: k)
                event = .keepalive
            default: event = nil
            }
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            switch event {
            case .start(let e): w.message("start", e)
            case .data(let e): w.message("data", e)
            case .keepalive: w.message("keepalive", EmptyMessage())
            case nil: break
            }
            return w.json
        }
    }

    /// `SendSignal`: the SDK's `kill(pid)` sends SIGKILL and reads not_found as "no such process".
    public struct SendSignalRequest: ProtoMessage {
        public var process: ProcessSelector?
        public var signal: Signal

        public init() { self.init(process: nil, signal: .unspecified) }
        public init(process: ProcessSelector?, signal: Signal) {
            self.process = process
            self.signal = signal
        }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            self.init(
                process: try f.message(ProcessSelector.self, "process"), signal: try f.enumeration(Signal.self, "signal") ?? .unspecified)
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("process", process)
            w.enumeration("signal", signal)
            return w.json
        }
    }

    /// A request naming only a process: `CloseStdin` and `Connect`.
    public struct ProcessRequest: ProtoMessage {
        public var process: ProcessSelector?
        public init() {}
        public init(process: ProcessSelector?) { self.process = process }
        public init(from decoder: any Decoder) throws {
            self.init(process: try ProtoFields(decoder).message(ProcessSelector.self, "process"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("process", process)
            return w.json
        }
    }

    /// `CloseStdin`: EOF on a pipe stdin (SDK: envd 0.5.2 and later).
    public typealias CloseStdinRequest = ProcessRequest
    /// `Connect` (server streaming): re-attach to a running process's events.
    public typealias ConnectRequest = ProcessRequest
}
