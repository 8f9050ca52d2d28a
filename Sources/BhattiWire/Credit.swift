/// Per-stream flow control.
///
/// Each side may send at most `initialWindow` bytes of `stdin`/`stdout`/`stderr`/`data` payload on a
/// stream before the receiver grants more with a `credit` frame; the receiver grants as it consumes.
/// One slow consumer therefore holds back only its own stream, never the channel: a 100 MiB file read
/// and a chatty session share the connection with a small exec without starving it.
public enum Credit {
    /// The window each side starts with on every stream, per direction.
    public static let initialWindow = 256 * 1024
    /// Grants are batched: the receiver sends one when this much has been consumed since the last.
    public static let grantThreshold = 64 * 1024

    /// The `credit` frame payload for `bytes`.
    public static func payload(_ bytes: Int) -> [UInt8] {
        let n = UInt32(clamping: bytes)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
    }

    /// The byte count a `credit` frame grants.
    public static func decode(_ frame: Frame) throws(WireError) -> Int {
        guard frame.payload.count == 4 else { throw .malformedPayload(.credit, "expected 4 bytes") }
        let p = frame.payload
        return Int(UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3]))
    }

    /// Whether frames of this type count against the window.
    public static func isMetered(_ type: FrameType) -> Bool {
        switch type {
        case .stdin, .stdout, .stderr, .data: true
        default: false
        }
    }
}

/// Terminal size in a `resize` frame.
public struct TerminalSize: Equatable, Sendable, Codable {
    public var rows: UInt16
    public var cols: UInt16
    public init(rows: UInt16, cols: UInt16) {
        self.rows = rows
        self.cols = cols
    }

    public var payload: [UInt8] { [UInt8(rows >> 8), UInt8(rows & 0xff), UInt8(cols >> 8), UInt8(cols & 0xff)] }

    public static func decode(_ frame: Frame) throws(WireError) -> TerminalSize {
        guard frame.payload.count == 4 else { throw .malformedPayload(.resize, "expected 4 bytes") }
        let p = frame.payload
        return TerminalSize(rows: UInt16(p[0]) << 8 | UInt16(p[1]), cols: UInt16(p[2]) << 8 | UInt16(p[3]))
    }
}
