extension EnvdProcess {
    /// One event of a Start or Connect stream, each sent as `{"event":{…}}` (StartResponse and
    /// ConnectResponse have the same shape).
    ///
    /// The SDK's reading: the first message must be `start` (its pid becomes the handle); `data`
    /// carries output; `end` gives the result (`exitCode`, and `error` only when present); `keepalive`
    /// is skipped. A stream that closes with no `end` makes `wait()` raise "Command ended without an
    /// end event", and a non-zero exit code raises CommandExitException.
    public struct ProcessEvent: ProtoMessage {
        public struct StartEvent: ProtoMessage {
            public var pid: UInt32
            public init() { self.init(pid: 0) }
            public init(pid: UInt32) { self.pid = pid }
            public init(from decoder: any Decoder) throws {
                self.init(pid: try ProtoFields(decoder).int(UInt32.self, "pid") ?? 0)
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                w.int32("pid", pid)
                return w.json
            }
        }

        /// `oneof output { bytes stdout; bytes stderr; bytes pty }`: raw bytes, base64 on the wire.
        public struct DataEvent: ProtoMessage {
            public enum Output: Equatable, Sendable {
                case stdout([UInt8])
                case stderr([UInt8])
                case pty([UInt8])
            }

            public var output: Output?
            public init() {}
            public init(_ output: Output?) { self.output = output }
            public init(from decoder: any Decoder) throws {
                let f = try ProtoFields(decoder)
                switch try f.oneof([("stdout", nil), ("stderr", nil), ("pty", nil)]) {
                case ("stdout", _)?: output = .stdout(try f.bytes("stdout") ?? [])
                case ("stderr", _)?: output = .stderr(try f.bytes("stderr") ?? [])
                case ("pty", _)?: output = .pty(try f.bytes("pty") ?? [])
                default: output = nil
                }
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                switch output {
                case .stdout(let b): w.bytes("stdout", present: b)
                case .stderr(let b): w.bytes("stderr", present: b)
                case .pty(let b): w.bytes("pty", present: b)
                case nil: break
                }
                return w.json
            }
        }

        public struct EndEvent: ProtoMessage {
            /// `sint32`: a JSON number like any 32-bit integer; negative for a signal death in envd.
            public var exitCode: Int32
            public var exited: Bool
            /// envd writes Go's `ProcessState.String()`, e.g. "exit status 1" or "signal: killed".
            public var status: String
            /// `optional`: the SDK reports it as the result's error only when present.
            public var error: String?

            public init() { self.init(exitCode: 0, exited: false, status: "") }
            public init(exitCode: Int32, exited: Bool, status: String, error: String? = nil) {
                self.exitCode = exitCode
                self.exited = exited
                self.status = status
                self.error = error
            }
            public init(from decoder: any Decoder) throws {
                let f = try ProtoFields(decoder)
                self.init(
                    exitCode: try f.int(Int32.self, "exitCode", "exit_code") ?? 0, exited: try f.bool("exited") ?? false,
                    status: try f.string("status") ?? "", error: try f.string("error"))
            }
            public var orderedJSON: OrderedJSON {
                var w = ProtoObjectWriter()
                w.int32("exitCode", exitCode)
                w.bool("exited", exited)
                w.string("status", status)
                w.string("error", present: error)
                return w.json
            }
        }

        public enum Event: Equatable, Sendable {
            case start(StartEvent)
            case data(DataEvent)
            case end(EndEvent)
            case keepalive
        }

        public var event: Event?
        public init() {}
        public init(_ event: Event?) { self.event = event }
        public init(from decoder: any Decoder) throws {
            let f = try ProtoFields(decoder)
            switch try f.oneof([("start", nil), ("data", nil), ("end", nil), ("keepalive", nil)]) {
            case ("start", let k)?: event = .start(try f.container.decode(StartEvent.self, forKey: k))
            case ("data", let k)?: event = .data(try f.container.decode(DataEvent.self, forKey: k))
            case ("end", let k)?: event = .end(try f.container.decode(EndEvent.self, forKey: k))
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
            case .end(let e): w.message("end", e)
            case .keepalive: w.message("keepalive", EmptyMessage())
            case nil: break
            }
            return w.json
        }
    }

    /// `StartResponse` and `ConnectResponse`: `{"event":{…}}`.
    public struct ProcessEventResponse: ProtoMessage {
        public var event: ProcessEvent?
        public init() {}
        public init(_ event: ProcessEvent.Event) { self.event = ProcessEvent(event) }
        public init(event: ProcessEvent?) { self.event = event }
        public init(from decoder: any Decoder) throws {
            self.init(event: try ProtoFields(decoder).message(ProcessEvent.self, "event"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.message("event", event)
            return w.json
        }
    }

    public typealias StartResponse = ProcessEventResponse
    public typealias ConnectResponse = ProcessEventResponse

    public struct ListResponse: ProtoMessage {
        public var processes: [ProcessInfo]
        public init() { self.init(processes: []) }
        public init(processes: [ProcessInfo]) { self.processes = processes }
        public init(from decoder: any Decoder) throws {
            self.init(processes: try ProtoFields(decoder).repeated(ProcessInfo.self, "processes"))
        }
        public var orderedJSON: OrderedJSON {
            var w = ProtoObjectWriter()
            w.repeated("processes", processes)
            return w.json
        }
    }

    public typealias UpdateResponse = EmptyMessage
    public typealias SendInputResponse = EmptyMessage
    public typealias StreamInputResponse = EmptyMessage
    public typealias SendSignalResponse = EmptyMessage
    public typealias CloseStdinResponse = EmptyMessage
}
