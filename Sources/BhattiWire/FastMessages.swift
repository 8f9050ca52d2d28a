public import BhattiJSON

/// The hot messages in `FastJSON`: byte-compatible with their Codable forms (same keys, nil
/// optionals left out), so either side may use either coder.
extension Hello {
    public var fastJSON: [UInt8] {
        var w = FastJSON.ObjectWriter()
        w.add("version", version)
        w.add("token", token)
        return w.finished()
    }

    public init(fastJSON bytes: [UInt8]) throws(FastJSON.Malformed) {
        let o = try FastJSONObject(bytes)
        self.init(version: try o.int("version"), token: try o.string("token"))
    }
}

extension HelloReply {
    public var fastJSON: [UInt8] {
        var w = FastJSON.ObjectWriter()
        w.add("version", version)
        w.add("agent_version", agentVersion)
        w.add("boot_id", bootID)
        w.add("uptime_ms", uptimeMilliseconds)
        if let capabilities { w.add("capabilities", capabilities) }
        if let lapicMult { w.add("lapic_mult", lapicMult) }
        return w.finished()
    }

    public init(fastJSON bytes: [UInt8]) throws(FastJSON.Malformed) {
        let o = try FastJSONObject(bytes)
        self.init(
            version: try o.int("version"), agentVersion: try o.string("agent_version"), bootID: try o.string("boot_id"),
            uptimeMilliseconds: try o.int("uptime_ms"), capabilities: o.keys.contains("capabilities") ? try o.strings("capabilities") : nil,
            lapicMult: o.keys.contains("lapic_mult") ? try o.int("lapic_mult") : nil)
    }
}

extension ExecRequest {
    public var fastJSON: [UInt8] {
        var w = FastJSON.ObjectWriter()
        w.add("argv", argv)
        w.add("env", env)
        if let cwd { w.add("cwd", cwd) }
        w.add("stdin", stdin)
        if let detach { w.add("detach", detach) }
        if let outputFile { w.add("output_file", outputFile) }
        if let user { w.add("user", user) }
        return w.finished()
    }

    public init(fastJSON bytes: [UInt8]) throws(FastJSON.Malformed) {
        let o = try FastJSONObject(bytes)
        self.init(
            argv: try o.strings("argv"), env: try o.stringMap("env"), cwd: try o.optionalString("cwd"), stdin: try o.bool("stdin"),
            detach: try o.optionalBool("detach"), outputFile: try o.optionalString("output_file"), user: try o.optionalString("user"))
    }
}

extension ExitStatus {
    public init(fastJSON bytes: [UInt8]) throws(FastJSON.Malformed) {
        let o = try FastJSONObject(bytes)
        let code = try o.int("code")
        let signal = try o.optionalInt("signal")
        guard let c = Int32(exactly: code), signal.map({ Int32(exactly: $0) != nil }) ?? true else {
            throw FastJSON.Malformed(reason: "exit code or signal out of range", offset: 0)
        }
        self.init(code: c, signal: signal.map { Int32($0) }, guestMicroseconds: try o.optionalInt("guest_us"))
    }
}

extension WireJSON {
    /// A frame's payload through one of the `FastJSON` initialisers, failing as `decode` does.
    public static func decodeFast<T>(_ frame: Frame, _ make: ([UInt8]) throws(FastJSON.Malformed) -> T) throws(WireError) -> T {
        do { return try make(frame.payload) } catch { throw .malformedPayload(frame.type, error.description) }
    }
}
